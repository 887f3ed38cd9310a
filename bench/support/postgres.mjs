import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '@herald/gateway/dist/database/embedded-postgres.js';
import { statementsFlags } from './pg-statements.mjs';

/**
 * One throwaway embedded Postgres cluster with Herald's settings (the `embedded-postgres` defaults Herald
 * runs with, fsync and synchronous_commit on). Herald and the bare baselines use their own databases in it.
 */
export async function startCluster() {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-pg-'));
  const embedded = await startEmbeddedPostgres({
    dataDir,
    persistent: false,
    database: 'postgres',
    postgresFlags: statementsFlags,
  });
  const admin = new pg.Client({ connectionString: embedded.url });
  await admin.connect();
  const urlOf = (database) => embedded.url.replace(/\/[^/]*$/, `/${database}`);
  return {
    adminUrl: embedded.url,
    urlOf,
    /** The postmaster's pid (first line of postmaster.pid): the root of every Postgres process of the run. */
    postmasterPid: Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]),
    async createDatabase(name) {
      await admin.query(`CREATE DATABASE "${name}"`);
      return urlOf(name);
    },
    /** Flush dirty buffers now, so a checkpoint does not land in the middle of the next measurement. */
    checkpoint: () => admin.query('CHECKPOINT'),
    /**
     * Leaves nothing of an earlier section's writes for Postgres to do in the background during the next
     * one: every table is vacuumed and analysed (so autovacuum has no threshold left to act on), then a
     * checkpoint writes out every dirty buffer. Otherwise the ingest section's million rows are vacuumed,
     * and its spread checkpoint fsyncs them, while the next section measures commit latencies.
     */
    async settle() {
      const { rows } = await admin.query(
        'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate',
      );
      for (const { datname } of rows)
        await withClient(urlOf(datname), (client) => client.query('VACUUM (ANALYZE)'));
      await admin.query('CHECKPOINT');
    },
    async version() {
      return (await admin.query('SHOW server_version')).rows[0].server_version;
    },
    async stop() {
      await admin.end().catch(() => undefined);
      await embedded.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
