import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';

/** A Postgres of the test's own (not the run's shared one), to stop and start again on its port and data. */
export interface RestartablePostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  remove(): Promise<void>;
}

export async function startRestartablePostgres(name: string): Promise<RestartablePostgres> {
  const dataDir = mkdtempSync(join(tmpdir(), `herald-${name}-`));
  let database = await startEmbeddedPostgres({ dataDir, persistent: true });
  const port = Number(new URL(database.url).port);
  return {
    url: database.url,
    stop: () => database.stop(),
    start: async () => {
      database = await startEmbeddedPostgres({ dataDir, persistent: true, port });
    },
    remove: async () => {
      await database.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
