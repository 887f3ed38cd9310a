import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each attempt records the URL it was sent to: an endpoint's URL can change between attempts, and
 * its history otherwise showed a receiver's answers under an address that never gave them. A nullable
 * column without a default changes only the catalog (no rewrite); attempts made before it show null.
 */
export class AttemptUrls1795450900000 implements MigrationInterface {
  name = 'AttemptUrls1795450900000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE delivery_attempts ADD COLUMN IF NOT EXISTS url text`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE delivery_attempts DROP COLUMN IF EXISTS url`);
  }
}
