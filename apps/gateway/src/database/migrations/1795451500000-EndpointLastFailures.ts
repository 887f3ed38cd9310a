import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When an endpoint last failed an attempt of its current failing streak: a pause of a day without
 * failures starts the streak over (see `OUTCOMES_STATEMENT`), where before an endpoint that had failed
 * once and then had no traffic for five days was disabled by its next failure, or by recovery with no
 * failure at all. Nullable, without a default: the catalog only. Streaks running at the upgrade keep
 * their start, as no last failure is known for them.
 */
export class EndpointLastFailures1795451500000 implements MigrationInterface {
  name = 'EndpointLastFailures1795451500000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS last_failed_at timestamptz`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE endpoints DROP COLUMN IF EXISTS last_failed_at`);
  }
}
