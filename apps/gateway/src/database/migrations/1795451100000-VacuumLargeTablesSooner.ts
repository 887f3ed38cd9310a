import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Autovacuum's default waits for 20% of a table to be dead rows: at 30 million events, six million
 * (about 9 GB) before the first pass after a retention purge, and deliveries, rewritten by every claim
 * and outcome, bloat the same way between passes. Two percent keeps each pass short and the tables near
 * their live size. Setting storage parameters takes a lock that does not stop reads or writes.
 */
const SETTINGS: Record<string, string> = {
  events:
    'autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02, ' +
    'autovacuum_vacuum_insert_scale_factor = 0.05',
  deliveries: 'autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02',
  delivery_attempts: 'autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05',
};

export class VacuumLargeTablesSooner1795451100000 implements MigrationInterface {
  name = 'VacuumLargeTablesSooner1795451100000';

  async up(db: QueryRunner): Promise<void> {
    for (const [table, settings] of Object.entries(SETTINGS))
      await db.query(`ALTER TABLE ${table} SET (${settings})`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const [table, settings] of Object.entries(SETTINGS)) {
      const names = settings.split(',').map((setting) => setting.split('=')[0]!.trim());
      await db.query(`ALTER TABLE ${table} RESET (${names.join(', ')})`);
    }
  }
}
