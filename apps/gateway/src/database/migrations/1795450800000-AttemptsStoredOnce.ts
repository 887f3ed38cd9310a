import type { MigrationInterface, QueryRunner } from 'typeorm';
import { withoutLockTimeout } from './without-lock-timeout.js';

/**
 * An attempt is stored once per delivery and start time. An outcome write tried again after a lost
 * connection could store its attempt a second time when the first try was still running: the retry's
 * check for a stored attempt could not see the uncommitted one. With this key the retry's insert waits for
 * the first try and then does nothing. It replaces the (delivery_id, id) index, which served the same
 * lookups, so the attempt insert maintains no more indexes than before. Duplicates stored before are
 * removed, keeping the first.
 * Outside a transaction, so the index is built CONCURRENTLY: a plain build would hold off every outcome
 * write (the attempt insert is part of it) on every replica for as long as it takes. Each step can run
 * again after a failure (a duplicate an old replica stored during the build leaves an invalid index, which
 * the next start drops and builds again).
 */
export class AttemptsStoredOnce1795450800000 implements MigrationInterface {
  name = 'AttemptsStoredOnce1795450800000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      DELETE FROM delivery_attempts a USING delivery_attempts b
      WHERE a.delivery_id = b.delivery_id AND a.attempted_at = b.attempted_at AND a.id > b.id`);
    await withoutLockTimeout(db, async () => {
      await db.query(`DROP INDEX CONCURRENTLY IF EXISTS delivery_attempts_once`);
      await db.query(
        `CREATE UNIQUE INDEX CONCURRENTLY delivery_attempts_once ON delivery_attempts (delivery_id, attempted_at)`,
      );
      await db.query(`DROP INDEX CONCURRENTLY IF EXISTS delivery_attempts_delivery`);
    });
  }

  // Run in a transaction by TypeORM's undo whatever this class says, so no CONCURRENTLY here.
  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id)`);
    await db.query(`DROP INDEX delivery_attempts_once`);
  }
}
