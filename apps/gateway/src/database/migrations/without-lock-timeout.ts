import type { QueryRunner } from 'typeorm';

/**
 * Runs `build`, statements with CONCURRENTLY, without `migrate()`'s lock timeout. Such a build waits
 * for every transaction older than it, on any table, while holding off no write, so a timeout would
 * only throw the build away once it had read the whole table (a `pg_dump` or a long report was
 * enough), and every retry would read it again.
 */
export async function withoutLockTimeout(db: QueryRunner, build: () => Promise<void>): Promise<void> {
  const shown = (await db.query('SHOW lock_timeout')) as Array<{ lock_timeout: string }>;
  const previous = shown[0]?.lock_timeout ?? '0';
  await db.query(`SELECT set_config('lock_timeout', '0', false)`);
  try {
    await build();
  } finally {
    await db.query(`SELECT set_config('lock_timeout', $1, false)`, [previous]);
  }
}
