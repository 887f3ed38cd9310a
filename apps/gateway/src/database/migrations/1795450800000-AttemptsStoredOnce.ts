import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An attempt is stored once per delivery and start time. An outcome write tried again after a lost
 * connection could store its attempt a second time when the first try was still running: the retry's
 * check for a stored attempt could not see the uncommitted one. With this key the retry's insert waits for
 * the first try and then does nothing. It replaces the (delivery_id, id) index, which served the same
 * lookups, so the attempt insert maintains no more indexes than before. Duplicates stored before are
 * removed, keeping the first.
 */
export class AttemptsStoredOnce1795450800000 implements MigrationInterface {
  name = 'AttemptsStoredOnce1795450800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      DELETE FROM delivery_attempts a USING delivery_attempts b
      WHERE a.delivery_id = b.delivery_id AND a.attempted_at = b.attempted_at AND a.id > b.id`);
    await db.query(
      `CREATE UNIQUE INDEX delivery_attempts_once ON delivery_attempts (delivery_id, attempted_at)`,
    );
    await db.query(`DROP INDEX delivery_attempts_delivery`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id)`);
    await db.query(`DROP INDEX delivery_attempts_once`);
  }
}
