import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateEndpointsAndDeliveries1795449800000 implements MigrationInterface {
  name = 'CreateEndpointsAndDeliveries1795449800000';

  async up(db: QueryRunner): Promise<void> {
    // Time-ordered ids made inside INSERT … SELECT (Postgres has uuidv7() only from 18 on).
    await db.query(`
      CREATE FUNCTION herald_uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
        SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
          PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
          FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
      $$`);
    // filter_types is what the operator wrote; types_regex is its compiled form, so the event writer's
    // transaction can match new events against endpoints in SQL.
    await db.query(`
      CREATE TABLE endpoints (
        id uuid PRIMARY KEY,
        url text NOT NULL,
        description text NOT NULL DEFAULT '',
        filter_types text[] NOT NULL DEFAULT '{}',
        types_regex text[] NOT NULL DEFAULT '{}',
        sources uuid[] NOT NULL DEFAULT '{}',
        enabled boolean NOT NULL DEFAULT true,
        disabled_reason text,
        secret text NOT NULL,
        previous_secret text,
        previous_secret_expires_at timestamptz,
        failing_since timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE deliveries (
        id uuid PRIMARY KEY DEFAULT herald_uuidv7(),
        endpoint_id uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
        event_seq bigint NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
        event_id uuid NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
        attempt_count integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        locked_by text,
        locked_until timestamptz,
        last_attempt_at timestamptz,
        last_response_status integer,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // The claim scans due pending rows; the reaper scans expired leases; operators list per endpoint.
    await db.query(`CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending'`);
    await db.query(`CREATE INDEX deliveries_leased ON deliveries (locked_until) WHERE status = 'delivering'`);
    await db.query(`CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id)`);
    // A queue table: rows change state fast, and a claim planned on stale statistics scans every due
    // row instead of walking deliveries_due in order. Keep vacuum and statistics close behind.
    await db.query(`
      ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)`);
    await db.query(`CREATE INDEX deliveries_event_seq ON deliveries (event_seq)`);
    await db.query(`
      CREATE TABLE delivery_attempts (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        attempted_at timestamptz NOT NULL,
        response_status integer,
        response_body text,
        duration_ms integer NOT NULL,
        error text
      )`);
    await db.query(`CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE delivery_attempts`);
    await db.query(`DROP TABLE deliveries`);
    await db.query(`DROP TABLE endpoints`);
    await db.query(`DROP FUNCTION herald_uuidv7()`);
  }
}
