import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The first Postgres whose own `uuidv7()` keeps the ids one session makes in order. */
const POSTGRES_WITH_UUIDV7 = 180_000;

/**
 * Deliveries are listed newest first by id, but ids made in the same millisecond (every delivery a replay
 * queues) differed only in random bits, so they listed in random order. Ids now grow in the order a
 * statement makes them, so a replay lists in the reverse of its sending order.
 * Postgres 18's `uuidv7()` does that (a sub-millisecond fraction, then a counter, within a session).
 * Before 18, `herald_uuidv7_counted()` puts a counter from a sequence after the timestamp (RFC 9562,
 * 6.2 method 1; 42 bits, wrapping after 4·10^12 ids) and keeps the last 32 bits random, so ids are not
 * guessable from their neighbours. It is plpgsql: a SQL function with a FROM is not inlined, and cost
 * twice as much per delivery row in the event writer's transaction.
 */
export class MonotonicDeliveryIds1795450500000 implements MigrationInterface {
  name = 'MonotonicDeliveryIds1795450500000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE SEQUENCE herald_uuidv7_counter AS bigint`);
    await db.query(`
      CREATE FUNCTION herald_uuidv7_counted() RETURNS uuid LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        ms bigint := floor(extract(epoch FROM clock_timestamp()) * 1000);
        counter bigint := nextval('herald_uuidv7_counter') % 4398046511104;
      BEGIN
        RETURN encode(
          int8send((ms << 16) | (7 << 12) | (counter >> 30))
          || substring(int8send(x'8000000000000000'::bigint | ((counter & 1073741823) << 32)) FROM 1 FOR 4)
          || substring(uuid_send(gen_random_uuid()) FROM 13 FOR 4),
          'hex')::uuid;
      END
      $$`);
    const rows: Array<{ version: number }> = await db.query(
      `SELECT current_setting('server_version_num')::int AS version`,
    );
    const body = rows[0]!.version >= POSTGRES_WITH_UUIDV7 ? 'uuidv7()' : 'herald_uuidv7_counted()';
    await db.query(`CREATE OR REPLACE FUNCTION herald_uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
      SELECT ${body}
    $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION herald_uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
        SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
          PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
          FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
      $$`);
    await db.query(`DROP FUNCTION herald_uuidv7_counted()`);
    await db.query(`DROP SEQUENCE herald_uuidv7_counter`);
  }
}
