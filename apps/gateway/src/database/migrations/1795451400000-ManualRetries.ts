import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Marks a delivery retried by hand after it had settled (delivered or failed): its next attempt is the
 * only one, as a resend, rather than taking up the retry schedule where the delivery had left it (a
 * delivered one retried against a failing receiver got three automatic attempts and a
 * `herald.delivery.failing`, a failed one exactly one). A column with a constant default changes only
 * the catalog (no rewrite).
 */
export class ManualRetries1795451400000 implements MigrationInterface {
  name = 'ManualRetries1795451400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(
      `ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS manual_retry boolean NOT NULL DEFAULT false`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE deliveries DROP COLUMN IF EXISTS manual_retry`);
  }
}
