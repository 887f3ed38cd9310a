import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A rotated ingest token may keep working for a while, so a provider can be given the new URL before
 * the old one is refused: SeaTable never retries a webhook and switches it off after five refusals.
 * The sources table is small, and columns without a default change only the catalog.
 */
export class PreviousIngestTokens1795451300000 implements MigrationInterface {
  name = 'PreviousIngestTokens1795451300000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE sources ADD COLUMN IF NOT EXISTS previous_ingest_token_hash bytea,
      ADD COLUMN IF NOT EXISTS previous_ingest_token_expires_at timestamptz`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE sources DROP COLUMN previous_ingest_token_hash,
      DROP COLUMN previous_ingest_token_expires_at`);
  }
}
