import type { MigrationInterface, QueryRunner } from 'typeorm';
import { withoutLockTimeout } from './without-lock-timeout.js';

/**
 * Type filters are anchored regexes (`typePatternToRegex`). Postgres makes an anchored regex's fixed
 * prefix (`jellyfish.room.` of `jellyfish.room.*`) a range on an index only when the index compares
 * bytes, which `events_type_seq` does only under the C collation: under any other, every pattern with
 * a wildcard read the whole log. `text_pattern_ops` compares bytes whatever the database's collation,
 * and still serves `type = …`. Built CONCURRENTLY, outside a transaction, so ingest goes on meanwhile;
 * each step can run again after a failure.
 */
export class EventTypesByPattern1795451000000 implements MigrationInterface {
  name = 'EventTypesByPattern1795451000000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await withoutLockTimeout(db, async () => {
      await db.query(`DROP INDEX CONCURRENTLY IF EXISTS events_type_pattern`);
      await db.query(`CREATE INDEX CONCURRENTLY events_type_pattern ON events (type text_pattern_ops, seq)`);
      await db.query(`DROP INDEX CONCURRENTLY IF EXISTS events_type_seq`);
    });
  }

  // Run in a transaction by TypeORM's undo whatever this class says, so no CONCURRENTLY here: the build
  // holds off event writes for as long as it reads the table (minutes at tens of millions of events).
  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX events_type_seq ON events (type, seq)`);
    await db.query(`DROP INDEX events_type_pattern`);
  }
}
