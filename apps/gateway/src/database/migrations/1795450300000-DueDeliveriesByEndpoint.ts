import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Due deliveries indexed by endpoint, then due time: the claim takes each endpoint's oldest due
 * deliveries up to its share, so one endpoint's backlog cannot fill the claim while another endpoint's
 * deliveries wait behind it, and it skips from endpoint to endpoint through this index without reading
 * any backlog (see `CLAIM_STATEMENT`). It replaces the index by due time alone, which had only the
 * oldest due deliveries of all endpoints to offer.
 */
export class DueDeliveriesByEndpoint1795450300000 implements MigrationInterface {
  name = 'DueDeliveriesByEndpoint1795450300000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX deliveries_due`);
    await db.query(
      `CREATE INDEX deliveries_due ON deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending'`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX deliveries_due`);
    await db.query(`CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending'`);
  }
}
