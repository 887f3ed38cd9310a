import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdvisoryLock } from '../database/advisory-locks.js';

export interface PurgeBatch {
  /** Whether this instance ran the batch (another may hold the retention lock). */
  ran: boolean;
  deleted: number;
}

@Injectable()
export class RetentionRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Deletes up to `limit` events received before `cutoff`, oldest seq first (their deliveries and
   * attempts go with them by cascade), and raises the expiry watermark in the same transaction.
   * Bounded batches keep each transaction short, so ingest never waits long on these row locks.
   */
  purgeBatch(cutoff: Date, limit: number): Promise<PurgeBatch> {
    return this.dataSource.transaction(async (tx) => {
      const [{ locked }] = await tx.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [
        AdvisoryLock.retention,
      ]);
      if (!locked) return { ran: false, deleted: 0 };
      // TypeORM answers a DELETE … RETURNING with [rows, rowCount].
      const [rows]: [Array<{ seq: string }>, number] = await tx.query(
        `DELETE FROM events WHERE seq IN (
           SELECT seq FROM events WHERE received_at < $1 ORDER BY received_at LIMIT $2
         ) RETURNING seq`,
        [cutoff, limit],
      );
      const highest = rows.reduce((max, row) => (BigInt(row.seq) > max ? BigInt(row.seq) : max), 0n);
      await tx.query(
        `UPDATE event_log_retention SET purged_through_seq = GREATEST(purged_through_seq, $1::bigint), last_run_at = now()
         WHERE id = 1`,
        [String(highest)],
      );
      return { ran: true, deleted: rows.length };
    });
  }
}
