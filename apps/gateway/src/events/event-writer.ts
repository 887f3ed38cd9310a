import { EventEmitter } from 'node:events';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { HeraldEvent } from '@herald/events';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { DataSource, type QueryRunner } from 'typeorm';
import { isDatabaseUnavailable } from '../common/errors/problem.js';
import { AdvisoryLock } from '../database/advisory-locks.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { EVENT_COLUMNS, type EventRow, newEventEnvelope, type NewEvent, toEnvelope } from './event-record.js';

/** What became of one appended event: newly stored, or an earlier event with the same dedup key. */
export interface AppendedEvent {
  event: HeraldEvent;
  duplicate: boolean;
}

/**
 * Work that must commit in the same transaction as the events it concerns (e.g. deliveries): a
 * data-modifying statement the writer runs as a CTE of its events INSERT, so it costs no round trip of
 * its own. Given the name of the CTE holding the batch's new rows (seq, id, type, source_id, provider;
 * duplicates are not among them), it returns the statement.
 */
export type WriteParticipant = (inserted: string) => string;

interface PendingAppend {
  events: NewEvent[];
  resolve: (result: AppendedEvent[]) => void;
  reject: (error: unknown) => void;
}

const MAX_EVENTS_PER_TRANSACTION = 1_000;

/** The driver connection under a TypeORM query runner (node-postgres `Client`). */
interface PgConnection {
  query(text: string, values?: unknown[]): Promise<{ rows: Array<{ id: string; seq: string }> }>;
}

interface WriterConnection {
  tx: QueryRunner;
  pg: PgConnection;
}

const INSERT_EVENTS = `INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data, raw, raw_content_type, dedup_key)
  SELECT nextval('event_seq'), u.*
  FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
              $8::jsonb[], $9::bytea[], $10::text[], $11::text[]) AS u
  ON CONFLICT (source_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
  RETURNING seq, id, type, source_id, provider`;

/** The events INSERT with each participant's statement as a further CTE reading its new rows. */
const insertStatement = (participants: readonly WriteParticipant[]): string =>
  [
    `WITH inserted AS (${INSERT_EVENTS})`,
    ...participants.map((participant, i) => `, participant_${i} AS (${participant('inserted')})`),
    ' SELECT id, seq FROM inserted',
  ].join('');

const sqlLiteral = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/**
 * The only code that inserts events. Appends queue up and are written as one transaction per batch
 * (group commit), each transaction holding a cluster-wide advisory lock from before `nextval` until
 * commit. So transactions commit in seq order across every instance, and a reader that has seen seq N
 * can never later see a smaller seq commit: the cursor-never-skips guarantee of contract §3.
 * One append (one request) is atomic: all of its events are stored or none.
 */
@Injectable()
export class EventWriter implements OnApplicationShutdown {
  /** Emits `committed` with the new envelopes, in seq order, after each commit. */
  readonly committed = new EventEmitter<{ committed: [HeraldEvent[]] }>();
  private readonly queue: PendingAppend[] = [];
  private readonly participants: WriteParticipant[] = [];
  /** The INSERT with every participant's CTE, built once: participants only join at start-up. */
  private insert = insertStatement([]);
  private readonly notifications: Array<{ channel: string; payload: string }> = [];
  private draining: Promise<void> | undefined;
  /** Held while the queue drains, so back-to-back batches skip the pool. */
  private connection: WriterConnection | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(EventWriter.name) private readonly logger: PinoLogger,
  ) {
    this.committed.setMaxListeners(0);
  }

  addParticipant(participant: WriteParticipant): void {
    this.participants.push(participant);
    this.insert = insertStatement(this.participants);
  }

  /**
   * `NOTIFY channel` in every write transaction (Postgres delivers it at commit, never before). Sent in
   * the transaction's opening round trip rather than by a participant; a batch that held only
   * duplicates notifies too, which costs a listener one empty read.
   */
  notifyOnCommit(channel: string, payload = ''): void {
    this.notifications.push({ channel, payload });
  }

  /** Resolves once the events are committed; rejects when nothing was stored. */
  append(events: NewEvent[]): Promise<AppendedEvent[]> {
    if (events.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      if (!this.draining) this.startDrain();
    });
  }

  async onApplicationShutdown(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /**
   * One drain at a time. An append that arrives after the drain's last look at the queue (while it
   * releases its connection, or before this callback runs) finds `draining` still set, so the drain
   * that just ended starts the next one.
   */
  private startDrain(): void {
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.startDrain();
    });
  }

  private takeBatch(): PendingAppend[] {
    const batch: PendingAppend[] = [];
    let count = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (batch.length > 0 && count + next.events.length > MAX_EVENTS_PER_TRANSACTION) break;
      batch.push(this.queue.shift()!);
      count += next.events.length;
    }
    return batch;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        try {
          this.settle(batch, await this.write(batch.flatMap((a) => a.events)));
        } catch (error) {
          // One bad append must not fail the others that happened to share its transaction.
          if (batch.length === 1 || isDatabaseUnavailable(error)) batch.forEach((a) => a.reject(error));
          else for (const append of batch) await this.writeAlone(append);
        }
      }
    } finally {
      await this.releaseConnection();
    }
  }

  private async connect(): Promise<WriterConnection> {
    if (this.connection) return this.connection;
    const tx = this.dataSource.createQueryRunner();
    try {
      const pg = (await tx.connect()) as PgConnection;
      this.connection = { tx, pg };
      return this.connection;
    } catch (error) {
      await tx.release().catch(() => undefined);
      throw error;
    }
  }

  private async releaseConnection(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.tx.release().catch(() => undefined);
  }

  private async writeAlone(append: PendingAppend): Promise<void> {
    try {
      this.settle([append], await this.write(append.events));
    } catch (error) {
      append.reject(error);
    }
  }

  private settle(batch: PendingAppend[], results: AppendedEvent[]): void {
    let offset = 0;
    for (const append of batch) {
      append.resolve(results.slice(offset, offset + append.events.length));
      offset += append.events.length;
    }
    const fresh = results.filter((r) => !r.duplicate).map((r) => r.event);
    if (fresh.length > 0) this.committed.emit('committed', fresh);
  }

  /**
   * One transaction in two awaited round trips: the opening statement (BEGIN, the advisory lock, NOTIFYs)
   * and the INSERT (with the participants' statements) are queued together on the connection, which
   * sends the INSERT as soon as the lock is held, inside that transaction (a failed opening leaves the
   * transaction aborted, so the INSERT can never run outside it); then COMMIT.
   * Each await on this path also waits for the event loop, which is busy with HTTP requests under load.
   */
  private async write(events: NewEvent[]): Promise<AppendedEvent[]> {
    const started = performance.now();
    const { tx, pg } = await this.connect();
    let open = false;
    try {
      const opening = [
        'BEGIN',
        `SELECT pg_advisory_xact_lock(${AdvisoryLock.eventWriter})`,
        ...this.notifications.map(
          ({ channel, payload }) => `SELECT pg_notify(${sqlLiteral(channel)}, ${sqlLiteral(payload)})`,
        ),
      ].join('; ');
      open = true;
      const [, { rows: inserted }] = await Promise.all([
        pg.query(opening),
        pg.query(this.insert, [
          events.map((e) => e.id),
          events.map((e) => e.type),
          events.map((e) => e.sourceId),
          events.map((e) => e.provider),
          events.map((e) => e.subject),
          events.map((e) => e.time),
          events.map((e) => e.receivedAt),
          events.map((e) => JSON.stringify(e.data)),
          events.map((e) => e.raw),
          events.map((e) => e.rawContentType),
          events.map((e) => e.dedupKey),
        ]),
      ]);
      const seqById = new Map(inserted.map((row) => [row.id, row.seq]));
      const duplicates = await this.findDuplicates(
        tx,
        events.filter((e) => !seqById.has(e.id)),
      );
      const results = events.map((event): AppendedEvent => {
        const seq = seqById.get(event.id);
        if (seq !== undefined) return { event: newEventEnvelope(event, seq), duplicate: false };
        const existing = duplicates.get(`${event.sourceId} ${event.dedupKey}`);
        if (!existing) throw new Error(`event ${event.id} was neither inserted nor a duplicate`);
        return { event: existing, duplicate: true };
      });
      open = false;
      await pg.query('COMMIT');
      this.metrics.eventsStored.inc(inserted.length);
      this.metrics.writeBatchSeconds.observe((performance.now() - started) / 1000);
      return results;
    } catch (error) {
      if (open) await pg.query('ROLLBACK').catch(() => undefined);
      // A connection that failed mid-transaction goes back to the pool; the next batch takes a fresh one.
      await this.releaseConnection();
      this.logger.warn({ err: error, events: events.length }, 'event batch not stored');
      throw error;
    }
  }

  private async findDuplicates(tx: QueryRunner, events: NewEvent[]): Promise<Map<string, HeraldEvent>> {
    if (events.length === 0) return new Map();
    const rows: Array<EventRow & { dedup_key: string }> = await tx.query(
      `SELECT ${EVENT_COLUMNS}, e.dedup_key FROM events e
       JOIN unnest($1::uuid[], $2::text[]) AS k(source_id, dedup_key) USING (source_id, dedup_key)`,
      [events.map((e) => e.sourceId), events.map((e) => e.dedupKey)],
    );
    return new Map(rows.map((row) => [`${row.source_id} ${row.dedup_key}`, toEnvelope(row)]));
  }
}
