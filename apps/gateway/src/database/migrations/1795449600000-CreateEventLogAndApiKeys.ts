import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateEventLogAndApiKeys1795449600000 implements MigrationInterface {
  name = 'CreateEventLogAndApiKeys1795449600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        scopes text[] NOT NULL,
        token_hash bytea NOT NULL UNIQUE,
        token_prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // seq is taken only inside the writer's serialised transaction, so commit order equals seq order.
    await db.query(`CREATE SEQUENCE event_seq AS bigint`);
    await db.query(`
      CREATE TABLE events (
        seq bigint PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        type text NOT NULL,
        source_id uuid NOT NULL,
        provider text NOT NULL,
        subject text,
        time timestamptz NOT NULL,
        received_at timestamptz NOT NULL,
        data jsonb NOT NULL,
        raw bytea,
        raw_content_type text,
        dedup_key text
      )`);
    await db.query(
      `CREATE UNIQUE INDEX events_source_dedup_key ON events (source_id, dedup_key) WHERE dedup_key IS NOT NULL`,
    );
    await db.query(`CREATE INDEX events_source_seq ON events (source_id, seq)`);
    await db.query(`CREATE INDEX events_type_seq ON events (type, seq)`);
    await db.query(`CREATE INDEX events_time ON events (time)`);
    await db.query(`CREATE INDEX events_received_at ON events (received_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE events`);
    await db.query(`DROP SEQUENCE event_seq`);
    await db.query(`DROP TABLE api_keys`);
  }
}
