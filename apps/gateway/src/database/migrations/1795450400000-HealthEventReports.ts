import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Herald's own health events are appended once the outcome or the disabling they report has
 * committed, so an append that failed (or a process killed in between) lost them for good. Each such
 * change now leaves a mark in its own transaction, kept until recovery has seen its event stored (see
 * HealthEventRecovery): `deliveries.failure_report_due_at` when an attempt failed a delivery for good,
 * `endpoints.disable_report_due_at` when Herald disabled an endpoint.
 * The partial index holds only the marks recovery has not cleared yet, so it stays a handful of rows,
 * and the outcome statement, which writes the column, adds no entry for a delivery it does not fail.
 * Endpoints need no index: the table is small, and recovery reads it twice a minute.
 */
export class HealthEventReports1795450400000 implements MigrationInterface {
  name = 'HealthEventReports1795450400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE deliveries ADD COLUMN failure_report_due_at timestamptz`);
    await db.query(
      `CREATE INDEX deliveries_failure_reports ON deliveries (failure_report_due_at)
       WHERE failure_report_due_at IS NOT NULL`,
    );
    await db.query(`ALTER TABLE endpoints ADD COLUMN disable_report_due_at timestamptz`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE endpoints DROP COLUMN disable_report_due_at`);
    await db.query(`ALTER TABLE deliveries DROP COLUMN failure_report_due_at`);
  }
}
