import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The reaper's index of leased deliveries no longer names `status = 'delivering'` in its predicate.
 * Every statement that changes a leased delivery (outcomes, heartbeats, releases) finds it by primary
 * key and checks `status = 'delivering'`, which made the old partial index a candidate path for each of
 * them; with statistics taken before a burst (few leased rows, as after any quiet spell), the planner
 * took it and compared every leased row with every id of the batch: 62 ms for an outcome batch of 300
 * among 20,000 leased deliveries, against 4 ms by primary key. test/delivery-claim-plan.e2e.test.ts
 * bounds the rows the outcome plan discards while another instance holds the rest of the leases.
 * A lease always has an expiry and nothing else does, so the reaper's `locked_until < now()` still
 * matches this index, and no other statement can.
 */
export class IndexLeasesByExpiry1795450100000 implements MigrationInterface {
  name = 'IndexLeasesByExpiry1795450100000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX deliveries_leased`);
    await db.query(
      `CREATE INDEX deliveries_lease_expiry ON deliveries (locked_until) WHERE locked_until IS NOT NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX deliveries_lease_expiry`);
    await db.query(`CREATE INDEX deliveries_leased ON deliveries (locked_until) WHERE status = 'delivering'`);
  }
}
