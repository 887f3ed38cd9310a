import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';

describe('embedded Postgres tuned by an operator', () => {
  it('starts on a cluster set to log to files of its own (logging_collector, csvlog) and little (fatal only)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-pg-'));
    try {
      const first = await startEmbeddedPostgres({ dataDir: dir, persistent: true });
      const client = new pg.Client({ connectionString: first.url });
      await client.connect();
      await client.query(`ALTER SYSTEM SET logging_collector = on`);
      await client.query(`ALTER SYSTEM SET log_destination = 'csvlog'`);
      await client.query(`ALTER SYSTEM SET log_min_messages = 'fatal'`);
      await client.end();
      await first.stop();
      // Its readiness is read from what it logs to stderr, which these settings had sent elsewhere: the
      // start waited for ever.
      const again = await startEmbeddedPostgres({ dataDir: dir, persistent: true });
      try {
        const check = new pg.Client({ connectionString: again.url });
        await check.connect();
        expect((await check.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        await check.end();
      } finally {
        await again.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
