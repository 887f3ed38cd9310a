import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddRetentionAndSilenceAlerts1795449900000 implements MigrationInterface {
  name = 'AddRetentionAndSilenceAlerts1795449900000';

  async up(db: QueryRunner): Promise<void> {
    // The highest seq retention has removed: cursors below it get `cursor_expired`.
    await db.query(`
      CREATE TABLE event_log_retention (
        id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        purged_through_seq bigint NOT NULL DEFAULT 0,
        last_run_at timestamptz
      )`);
    await db.query(`INSERT INTO event_log_retention (id) VALUES (1)`);
    await db.query(
      `ALTER TABLE sources ADD COLUMN silent_after_seconds integer CHECK (silent_after_seconds > 0)`,
    );
    // One `herald.source.silent` per quiet spell: the alert remembers which last event it was about.
    await db.query(`
      CREATE TABLE source_silence_alerts (
        source_id uuid PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
        last_event_at timestamptz NOT NULL,
        alerted_at timestamptz NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE source_silence_alerts`);
    await db.query(`ALTER TABLE sources DROP COLUMN silent_after_seconds`);
    await db.query(`DROP TABLE event_log_retention`);
  }
}
