import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { AdvisoryLock } from './advisory-locks.js';

/**
 * Runs pending migrations while holding a session advisory lock, so several instances starting at
 * once apply each migration exactly once and the others wait for a finished schema.
 */
export async function migrate(dataSource: DataSource, logger: Pick<Logger, 'info'>): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [AdvisoryLock.migrations]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length > 0) logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [AdvisoryLock.migrations]).catch(() => undefined);
    await runner.release();
  }
}
