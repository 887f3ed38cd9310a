import { EventEmitter } from 'node:events';
import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { HeraldEvent } from '@herald/events';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import { ClusterBus } from '../cluster/cluster-bus.js';
import { EVENT_COLUMNS, type EventRow, toEnvelope } from '../events/event-record.js';
import { EventWriter } from '../events/event-writer.js';

const PAGE = 1_000;
/** Safety net for a missed notification; normally reads are woken within a millisecond of a commit. */
const POLL_INTERVAL_MS = 1_000;

/**
 * Follows the event log in seq order and hands each committed event to the instance's subscribers,
 * whichever instance wrote it. Because writers commit in seq order (see docs/event-log.md), reading
 * `seq > position` never skips an event, so every instance sees the same order with no gaps.
 * Wake-ups: this instance's writer (in process), other instances through the cluster bus (NOTIFY or
 * Redis), and a slow poll, which alone keeps events flowing while the bus is down.
 */
@Injectable()
export class EventLogTail implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly emitter = new EventEmitter<{ events: [HeraldEvent[]] }>();
  private lastSeq: bigint | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly writer: EventWriter,
    private readonly bus: ClusterBus,
    @InjectPinoLogger(EventLogTail.name) private readonly logger: PinoLogger,
  ) {
    this.emitter.setMaxListeners(0);
  }

  /** The seq of the last event handed out; every event after it will be handed out, in order. */
  get position(): bigint {
    return this.lastSeq ?? 0n;
  }

  onEvents(listener: (events: HeraldEvent[]) => void): void {
    this.emitter.on('events', listener);
  }

  async onApplicationBootstrap(): Promise<void> {
    const rows: Array<{ seq: string | null }> = await this.dataSource.query(
      'SELECT max(seq) AS seq FROM events',
    );
    this.lastSeq = BigInt(rows[0]?.seq ?? 0);
    this.bus.shareCommits(this.writer);
    this.writer.committed.on('committed', () => this.wake());
    this.bus.onEventsCommitted((throughSeq) => this.wake(throughSeq));
    this.schedulePoll();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    await this.reading;
  }

  /**
   * Reads on now, unless everything through `throughSeq` was already read; wake-ups during a read cause
   * one more read, never concurrent ones.
   */
  wake(throughSeq?: bigint): void {
    if (this.stopped || this.lastSeq === undefined) return;
    if (throughSeq !== undefined && throughSeq <= this.lastSeq) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.readAll().finally(() => {
      this.reading = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private schedulePoll(): void {
    this.pollTimer = setTimeout(() => {
      this.wake();
      if (!this.stopped) this.schedulePoll();
    }, POLL_INTERVAL_MS);
    this.pollTimer.unref();
  }

  private async readAll(): Promise<void> {
    try {
      for (;;) {
        const rows: EventRow[] = await this.dataSource.query(
          `SELECT ${EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`,
          [String(this.lastSeq)],
        );
        if (rows.length === 0 || this.stopped) return;
        this.lastSeq = BigInt(rows[rows.length - 1]!.seq);
        this.emitter.emit('events', rows.map(toEnvelope));
        if (rows.length < PAGE) return;
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'could not read the event log; the next wake-up retries');
    }
  }
}
