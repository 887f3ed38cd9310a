import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '@herald/events';
import { type DataSource, MigrationExecutor, type QueryRunner } from 'typeorm';
import { AdvisoryLock } from './advisory-locks.js';

/** SQLSTATE of a statement that gave up waiting for a lock (`lock_timeout`). */
const LOCK_NOT_AVAILABLE = '55P03';

export interface MigrationLockWait {
  /** How long one statement may wait for a lock before the migration is given up and tried again. */
  timeoutMs: number;
  /** The first wait before trying again; it doubles up to 30 s. */
  retryMs: number;
}

/** What `migrate` logs through (a pino logger is one). */
export interface MigrationLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

const DEFAULT_LOCK_WAIT: MigrationLockWait = { timeoutMs: 2_000, retryMs: 1_000 };

/** How often an instance asks for the migration lock while another holds it. */
const MIGRATION_LOCK_POLL_MS = 250;

/**
 * Runs pending migrations while holding a session advisory lock, so several instances starting at
 * once apply each migration exactly once and the others wait for a finished schema.
 * A statement waits at most `timeoutMs` for a lock: a lock request queued behind a long reader holds
 * off everything after it, and every event write touches `deliveries` (fan-out), so an `ALTER TABLE`
 * stuck behind a 6 s read stalled ingest on every replica for those 6 s; now writes wait at most
 * `timeoutMs` per try. The migration is rolled back and tried again later, until it gets its lock; the
 * instance is not ready meanwhile. CONCURRENTLY builds run without the timeout (`withoutLockTimeout`).
 */
export async function migrate(
  dataSource: DataSource,
  logger: MigrationLogger,
  lockWait: MigrationLockWait = DEFAULT_LOCK_WAIT,
): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  let locked = false;
  try {
    locked = await takeMigrationLock(runner, logger);
    await runner.query(`SET lock_timeout = ${Math.round(lockWait.timeoutMs)}`);
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    const backoff = new Backoff({ initialMs: lockWait.retryMs, maxMs: 30_000 });
    for (;;) {
      try {
        const applied = await executor.executePendingMigrations();
        if (applied.length > 0) logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
        return;
      } catch (error) {
        if ((error as { code?: unknown }).code !== LOCK_NOT_AVAILABLE) throw error;
        const retryInMs = backoff.next();
        logger.warn(
          { err: error, lockTimeoutMs: lockWait.timeoutMs, retryInMs },
          'a migration waited too long for a lock (a long transaction holds it); trying again',
        );
        await sleep(retryInMs);
      }
    }
  } finally {
    await runner.query('RESET lock_timeout').catch(() => undefined);
    if (locked) {
      await runner.query('SELECT pg_advisory_unlock($1)', [AdvisoryLock.migrations]).catch(() => undefined);
    }
    await runner.release();
  }
}

/**
 * Takes the migration lock, asking again every MIGRATION_LOCK_POLL_MS while another instance holds it,
 * rather than waiting inside `pg_advisory_lock`: a CONCURRENTLY build of the holder waits for every
 * statement running when it starts, that wait included, which waits for the holder, and Postgres then
 * aborts one of the two as a deadlock (replicas started together, as compose starts them: the build
 * thrown away after minutes of reading, or the waiting instance's start failed).
 */
async function takeMigrationLock(runner: QueryRunner, logger: MigrationLogger): Promise<true> {
  for (let asked = 0; ; asked++) {
    const rows = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [
      AdvisoryLock.migrations,
    ])) as Array<{ locked: boolean }>;
    if (rows[0]?.locked) return true;
    if (asked === 0) logger.info({}, 'waiting for another instance to finish its migrations');
    await sleep(MIGRATION_LOCK_POLL_MS);
  }
}
