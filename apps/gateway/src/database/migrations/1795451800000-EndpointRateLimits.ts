import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An endpoint's rate limit (deliveries per second, null: none) and the earliest time its next attempt
 * may start, which every instance reserves from (see `DeliveryRepository.reserveSendTime`), so the limit
 * holds for the cluster rather than per instance. Nullable without defaults: the catalog only.
 */
export class EndpointRateLimits1795451800000 implements MigrationInterface {
  name = 'EndpointRateLimits1795451800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(
      `ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS rate_limit int, ADD COLUMN IF NOT EXISTS next_send_at timestamptz`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(
      `ALTER TABLE endpoints DROP COLUMN IF EXISTS rate_limit, DROP COLUMN IF EXISTS next_send_at`,
    );
  }
}
