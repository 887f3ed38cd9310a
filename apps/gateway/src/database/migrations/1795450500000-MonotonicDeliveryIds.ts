import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deliveries are listed newest first by id, but ids made in the same millisecond (every delivery a replay
 * queues) differed only in random bits, so they listed in random order. The bits after the timestamp
 * are now a counter from a sequence (RFC 9562, 6.2 method 1, 42 bits: it wraps after 4·10^12 ids), so
 * ids grow in the order a statement makes them, and a replay lists in the reverse of its sending order.
 * The last 32 bits stay random: ids are not guessable from their neighbours.
 */
export class MonotonicDeliveryIds1795450500000 implements MigrationInterface {
  name = 'MonotonicDeliveryIds1795450500000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE SEQUENCE herald_uuidv7_counter AS bigint CYCLE`);
    await db.query(`
      CREATE OR REPLACE FUNCTION herald_uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
        SELECT encode(
            int8send((t.ms << 16) | (7 << 12) | (t.counter >> 30))
            || substring(int8send(x'8000000000000000'::bigint | ((t.counter & 1073741823) << 32)) FROM 1 FOR 4)
            || substring(uuid_send(gen_random_uuid()) FROM 13 FOR 4),
          'hex')::uuid
        FROM (SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms,
                     nextval('herald_uuidv7_counter') % 4398046511104 AS counter) t
      $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION herald_uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
        SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
          PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
          FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
      $$`);
    await db.query(`DROP SEQUENCE herald_uuidv7_counter`);
  }
}
