import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdvisoryLock } from '../database/advisory-locks.js';
import { DELETE_EXPIRED_BATCH, RAISE_PURGED_THROUGH, TRY_RETENTION_LOCK } from './retention.sql.js';

export interface PurgeBatch {
  /** Whether this instance ran the batch (another may hold the retention lock). */
  ran: boolean;
  deleted: number;
}

@Injectable()
export class RetentionRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Deletes up to `limit` events received before `cutoff`, oldest received first, with their deliveries
   * and attempts, and raises the expiry watermark in the same transaction.
   * Bounded batches keep each transaction short, so ingest never waits long on these row locks.
   */
  purgeBatch(cutoff: Date, limit: number): Promise<PurgeBatch> {
    return this.dataSource.transaction(async (tx) => {
      const [{ locked }] = await tx.query(TRY_RETENTION_LOCK, [AdvisoryLock.retention]);
      if (!locked) return { ran: false, deleted: 0 };
      const rows: Array<{ seq: string }> = await tx.query(DELETE_EXPIRED_BATCH, [cutoff, limit]);
      const highest = rows.reduce((max, row) => (BigInt(row.seq) > max ? BigInt(row.seq) : max), 0n);
      await tx.query(RAISE_PURGED_THROUGH, [String(highest)]);
      return { ran: true, deleted: rows.length };
    });
  }
}
