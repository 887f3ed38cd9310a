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
 * What this instance's writer commits right after the position is handed out without a read;
 * everything else is read, woken by the writer (in process), other instances through the cluster bus
 * (NOTIFY or Redis), and a slow poll, which alone keeps events flowing while the bus is down.
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
    // Once the writer's callers have their answers and its next batch is on the wire (see takeCommitted).
    this.writer.committed.on('committed', (events) => process.nextTick(() => this.takeCommitted(events)));
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

  /**
   * Events this instance's writer has just committed. When their seqs run on from the position without
   * a gap (position + 1, + 2, …), they are exactly the next events of the log: every seq up to the
   * position has been handed out and each seq after it up to the batch's last is one of these rows, so
   * no other event can lie in between. They are handed out as they are, without reading them back, which
   * saves a round trip per commit on the way to subscribers. Anything else (another instance committed
   * first, a duplicate or a rolled-back batch left a gap in the sequence) is left to a read.
   * Runs on the next tick, when the promise jobs queued by the commit have run: the fan-out then holds up
   * neither the callers' answers nor the writer's next transaction, and waits for no other I/O (as
   * setImmediate would, behind every request that came in meanwhile). The check and the hand-out
   * happen in one synchronous step, as for a read.
   */
  private takeCommitted(events: HeraldEvent[]): void {
    if (this.stopped || this.lastSeq === undefined || events.length === 0) return;
    if (BigInt(events[events.length - 1]!.seq) <= this.lastSeq) return; // a read has handed them out
    let expected = this.lastSeq;
    for (const event of events) {
      if (BigInt(event.seq) !== ++expected) return this.wake();
    }
    this.lastSeq = expected;
    this.emitter.emit('events', events);
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
        if (this.stopped) return;
        // The writer may have handed out the first of these while the read was in flight.
        const position = this.position;
        const unseen = rows.filter((row) => BigInt(row.seq) > position);
        if (unseen.length > 0) {
          this.lastSeq = BigInt(unseen[unseen.length - 1]!.seq);
          this.emitter.emit('events', unseen.map(toEnvelope));
        }
        if (rows.length < PAGE) return;
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'could not read the event log; the next wake-up retries');
    }
  }
}
