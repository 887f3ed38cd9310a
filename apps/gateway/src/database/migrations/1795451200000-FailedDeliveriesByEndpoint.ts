import type { MigrationInterface, QueryRunner } from 'typeorm';
import { withoutLockTimeout } from './without-lock-timeout.js';

/**
 * `GET /v1/endpoints/:id/deliveries?status=failed` walked every delivery of the endpoint newest first
 * for the few that failed (286 ms for an endpoint with a million and none failed, growing with it).
 * Failed deliveries are few and never rewritten by the worker, so their own index costs writes only when
 * one fails or is retried. Built CONCURRENTLY, outside a transaction, so writes go on; each step can
 * run again after a failure.
 */
export class FailedDeliveriesByEndpoint1795451200000 implements MigrationInterface {
  name = 'FailedDeliveriesByEndpoint1795451200000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await withoutLockTimeout(db, async () => {
      await db.query(`DROP INDEX CONCURRENTLY IF EXISTS deliveries_failed`);
      await db.query(
        `CREATE INDEX CONCURRENTLY deliveries_failed ON deliveries (endpoint_id, id) WHERE status = 'failed'`,
      );
    });
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX deliveries_failed`);
  }
}
