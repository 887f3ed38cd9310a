import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The deliveries tables lose their foreign keys; what they did is now done by the statements that
 * delete (retention, endpoint deletion) and by the claim (a delivery whose event is gone is dropped).
 * Each key check locked the referenced row (`FOR KEY SHARE`): 12 µs of the 27 µs a replayed delivery
 * cost Postgres and 9 µs of each stored attempt, and the endpoint row was locked once per queued
 * delivery. A fan-out racing an endpoint's deletion also failed its whole event write with a key
 * violation; now the stray delivery is never claimed and the worker's sweep deletes it
 * (docs/performance.md, 2026-12-05, fourth session).
 */
export class DropDeliveryForeignKeys1795450000000 implements MigrationInterface {
  name = 'DropDeliveryForeignKeys1795450000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_delivery_id_fkey`);
    await db.query(`ALTER TABLE deliveries DROP CONSTRAINT deliveries_endpoint_id_fkey`);
    await db.query(`ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_seq_fkey`);
  }

  async down(db: QueryRunner): Promise<void> {
    // Rows the keys would have refused: strays of the races above.
    await db.query(`
      DELETE FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.id = d.endpoint_id)
        OR NOT EXISTS (SELECT 1 FROM events ev WHERE ev.seq = d.event_seq)`);
    await db.query(`
      DELETE FROM delivery_attempts a WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = a.delivery_id)`);
    await db.query(`
      ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_seq_fkey
        FOREIGN KEY (event_seq) REFERENCES events (seq) ON DELETE CASCADE`);
    await db.query(`
      ALTER TABLE deliveries ADD CONSTRAINT deliveries_endpoint_id_fkey
        FOREIGN KEY (endpoint_id) REFERENCES endpoints (id) ON DELETE CASCADE`);
    await db.query(`
      ALTER TABLE delivery_attempts ADD CONSTRAINT delivery_attempts_delivery_id_fkey
        FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE`);
  }
}
