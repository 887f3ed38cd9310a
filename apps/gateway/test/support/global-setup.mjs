// One throwaway Postgres cluster per test run; each test file creates its own database in it.
// Plain .mjs importing the built module: Jest compiles globalSetup without moduleNameMapper.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../dist/database/embedded-postgres.js';

export default async function globalSetup() {
  if (process.env.HERALD_TEST_DATABASE_URL) return;
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-pg-'));
  const database = await startEmbeddedPostgres({
    dataDir,
    persistent: false,
    database: 'postgres',
    // Durability is not under test in a throwaway cluster; speed is welcome.
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
    ],
  });
  process.env.HERALD_TEST_DATABASE_URL = database.url;
  globalThis.__heraldTestDatabase = database;
  // An interrupted run (Ctrl-C, a CI timeout) skips the global teardown: stop the cluster then too.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ]) {
    process.once(signal, () => void database.stop().finally(() => process.exit(code)));
  }
}
