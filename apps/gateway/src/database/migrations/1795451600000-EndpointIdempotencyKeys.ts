import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An endpoint created with an `Idempotency-Key` keeps the key and a digest of its request: a client
 * retrying a create it got no answer to (a timeout, a lost connection) gets the endpoint made the first
 * time, where it made a second one and every matching event went out twice. The endpoints table is
 * small, so the unique index is built in the migration's transaction.
 */
export class EndpointIdempotencyKeys1795451600000 implements MigrationInterface {
  name = 'EndpointIdempotencyKeys1795451600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(
      `ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS idempotency_key text, ADD COLUMN IF NOT EXISTS request_digest text`,
    );
    await db.query(
      `CREATE UNIQUE INDEX IF NOT EXISTS endpoints_idempotency_key ON endpoints (idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX IF EXISTS endpoints_idempotency_key`);
    await db.query(
      `ALTER TABLE endpoints DROP COLUMN IF EXISTS idempotency_key, DROP COLUMN IF EXISTS request_digest`,
    );
  }
}
