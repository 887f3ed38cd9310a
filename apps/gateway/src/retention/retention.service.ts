import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { PeriodicTask } from '../common/periodic-task.js';
import { HERALD_CONFIG, type HeraldConfig } from '../config/herald-config.js';
import { RetentionRepository } from './retention.repository.js';
import { PURGE_BATCH_SIZE } from './retention.sql.js';

const INTERVAL_MS = 10 * 60_000;
/**
 * Soon after a start as well: an instance restarted more often than every ten minutes would otherwise
 * never purge, and a lowered HERALD_RETENTION_DAYS would wait ten minutes to show.
 */
const FIRST_RUN_MS = 5_000;

/**
 * Removes events older than HERALD_RETENTION_DAYS (by receive time) every ten minutes and soon after
 * start, in bounded batches under a cluster-wide try-lock so only one instance works at a time. Batched deletes were kept
 * over day partitions after measuring both on the same data (`pnpm bench --only retention`; figures and
 * reasons in docs/performance.md, "Retention: batched deletes vs partitions"): dropping partitions writes
 * ~9x less WAL, but partitioning `events` by received_at costs the unique dedup index, `seq` and `id`
 * unique on their own, the cascading foreign key from deliveries, and a job that creates partitions
 * ahead; per-batch cost stayed flat and ingest did not stall during either purge.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly task = new PeriodicTask(
    (now, stopping) => this.purgeAll(new Date(now - this.config.retentionDays * 86_400_000), stopping),
    0,
    (error) => this.logger.warn({ err: error }, 'retention run failed; the next run continues'),
  );

  constructor(
    private readonly repository: RetentionRepository,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
    @InjectPinoLogger(RetentionService.name) private readonly logger: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(INTERVAL_MS, FIRST_RUN_MS);
  }

  onApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** Deletes everything past retention as of `now`; returns how many events this instance removed. */
  purge(now = Date.now()): Promise<number> {
    return this.task.run(now);
  }

  /** Batch after batch until none is full; a shutdown ends it between batches (the next run goes on). */
  private async purgeAll(cutoff: Date, stopping: () => boolean): Promise<number> {
    let total = 0;
    for (;;) {
      const batch = await this.repository.purgeBatch(cutoff, PURGE_BATCH_SIZE);
      total += batch.deleted;
      if (!batch.ran || batch.deleted < PURGE_BATCH_SIZE || stopping()) break;
    }
    if (total > 0) this.logger.info({ deleted: total, cutoff }, 'retention removed old events');
    return total;
  }
}
