import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Headers an operator adds to an endpoint's webhooks (an API gateway's key in front of the receiver,
 * a tenant name). A constant default: the catalog only, no rewrite of the table.
 */
export class EndpointHeaders1795451700000 implements MigrationInterface {
  name = 'EndpointHeaders1795451700000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS headers jsonb NOT NULL DEFAULT '{}'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE endpoints DROP COLUMN IF EXISTS headers`);
  }
}
