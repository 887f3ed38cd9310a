import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deliveries whose last answer was 410 Gone, by endpoint: HealthEventRecovery looks there for an
 * endpoint whose disabling was lost (the process died between the attempt's commit and the disable).
 * Such answers are rare, so the index stays a handful of rows.
 */
export class GoneAnswersIndex1795450600000 implements MigrationInterface {
  name = 'GoneAnswersIndex1795450600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(
      `CREATE INDEX deliveries_gone ON deliveries (endpoint_id, updated_at) WHERE last_response_status = 410`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX deliveries_gone`);
  }
}
