import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateSources1795449700000 implements MigrationInterface {
  name = 'CreateSources1795449700000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE sources (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        provider text NOT NULL,
        mode text NOT NULL CHECK (mode IN ('webhook', 'stream')),
        config jsonb NOT NULL,
        ingest_token_hash bytea,
        ingest_token_prefix text,
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Written by whichever instance holds a stream source, so any instance can answer /status.
    await db.query(`
      CREATE TABLE source_states (
        source_id uuid PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
        state text NOT NULL,
        last_error text,
        connected_since timestamptz,
        reconnects integer NOT NULL DEFAULT 0,
        instance_id text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE source_states`);
    await db.query(`DROP TABLE sources`);
  }
}
