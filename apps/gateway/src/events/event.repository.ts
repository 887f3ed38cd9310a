import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EVENT_COLUMNS, type EventRow } from './event-record.js';
import { typeMatches } from './type-matches.sql.js';

/** Read-side query over the event log; every condition is optional. */
export interface EventQuery {
  afterSeq?: string;
  /** Inclusive upper bound, so a replay can stop exactly where live delivery takes over. */
  throughSeq?: string;
  /** POSIX regexes compiled from type patterns (`typePatternToRegex`). */
  typeRegexes?: string[];
  sourceIds?: string[];
  since?: Date;
  until?: Date;
  limit: number;
}

/** A page of the log, and whether retention had removed events after its start when it was read. */
export interface EventPage {
  rows: EventRow[];
  /** Retention's watermark had passed `afterSeq`: the page may lack events it removed. */
  expired: boolean;
}

/** True when events after `afterSeq` may have been removed by retention (`0`: from the oldest kept). */
export function expiredBy(afterSeq: bigint, purgedThrough: bigint): boolean {
  return afterSeq > 0n && afterSeq < purgedThrough;
}

@Injectable()
export class EventRepository {
  constructor(private readonly dataSource: DataSource) {}

  async findById(id: string, includeRaw: boolean): Promise<EventRow | undefined> {
    const columns = includeRaw ? `${EVENT_COLUMNS}, raw, raw_content_type` : EVENT_COLUMNS;
    const rows: EventRow[] = await this.dataSource.query(`SELECT ${columns} FROM events WHERE id = $1`, [id]);
    return rows[0];
  }

  /** The event's seq (undefined when no such event is stored) and retention's watermark, read together. */
  async positionOf(id: string): Promise<{ seq: bigint | undefined; purgedThrough: bigint }> {
    const rows: Array<{ seq: string | null; purged: string }> = await this.dataSource.query(
      `SELECT (SELECT seq FROM events WHERE id = $1) AS seq, (${PURGED_THROUGH}) AS purged`,
      [id],
    );
    const seq = rows[0]?.seq;
    return { seq: seq == null ? undefined : BigInt(seq), purgedThrough: BigInt(rows[0]?.purged ?? 0) };
  }

  /** The newest stored dedup key of a source that starts with `prefix`, if it is among its last events. */
  async lastDedupKey(sourceId: string, prefix: string): Promise<string | null> {
    const rows: Array<{ dedup_key: string }> = await this.dataSource.query(LAST_DEDUP_KEY_STATEMENT, [
      sourceId,
      prefix,
    ]);
    return rows[0]?.dedup_key ?? null;
  }

  /**
   * The range of seqs a cursor may name: above the highest seq retention has removed (0 when nothing
   * was), and at most the highest seq any instance has taken from `event_seq` (0 when none has).
   */
  async seqBounds(): Promise<{ purgedThrough: bigint; lastIssued: bigint }> {
    const rows: Array<{ purged: string | null; issued: string | null }> = await this.dataSource.query(
      `SELECT (${PURGED_THROUGH}) AS purged, pg_sequence_last_value('event_seq') AS issued`,
    );
    return { purgedThrough: BigInt(rows[0]?.purged ?? 0), lastIssued: BigInt(rows[0]?.issued ?? 0) };
  }

  /**
   * Events in seq order. Commits are seq-ordered, so what a query sees is always a prefix of the log.
   * With retention's watermark as of the same snapshot: a page that starts below it may have lost events
   * to a purge, however recent (see `EventPage`).
   */
  async query(query: EventQuery): Promise<EventPage> {
    const { sql, params } = eventQueryStatement(query);
    const rows: Array<EventRow & { purged_through?: string }> = await this.dataSource.query(sql, params);
    const after = BigInt(query.afterSeq ?? 0);
    // From the oldest kept event, nothing can have been passed over.
    if (after === 0n) return { rows, expired: false };
    // An empty page has no row to carry the watermark, read after it instead: a purge since then can
    // only have removed events the page's filters left out (retention removes old events, and the page
    // saw none of its own after its start), which expires a cursor as any purge past it does.
    const purged = rows[0]?.purged_through ?? (await this.seqBounds()).purgedThrough;
    return { rows, expired: expiredBy(after, BigInt(purged)) };
  }
}

/** The highest seq retention has removed (see `expiredBy`). */
const PURGED_THROUGH = 'SELECT purged_through_seq FROM event_log_retention WHERE id = 1';

/** How many of a source's newest events `lastDedupKey` looks through. */
export const DEDUP_KEY_LOOKBACK = 10_000;

/**
 * Walks the source's events newest first (events_source_seq) for a key with the prefix, through its
 * last DEDUP_KEY_LOOKBACK only: a stream's checkpoint is among its last few events, and when none has
 * the prefix (a base Herald has not followed before) the unbounded walk read every event of the source,
 * 11 s at 3 million, before the stream could connect.
 */
export const LAST_DEDUP_KEY_STATEMENT = `SELECT dedup_key FROM (
    SELECT dedup_key, seq FROM events WHERE source_id = $1 ORDER BY seq DESC LIMIT ${DEDUP_KEY_LOOKBACK}
  ) newest
  WHERE starts_with(dedup_key, $2) ORDER BY seq DESC LIMIT 1`;

/** `EventRepository.query`'s statement and its parameters. */
export function eventQueryStatement(query: EventQuery): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const placeholder = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.afterSeq !== undefined) conditions.push(`seq > ${placeholder(query.afterSeq)}::bigint`);
  if (query.throughSeq !== undefined) conditions.push(`seq <= ${placeholder(query.throughSeq)}::bigint`);
  if (query.typeRegexes?.length) conditions.push(typeMatches('type', query.typeRegexes, placeholder));
  if (query.sourceIds?.length) conditions.push(`source_id = ANY(${placeholder(query.sourceIds)}::uuid[])`);
  if (query.since) conditions.push(`time >= ${placeholder(query.since)}`);
  if (query.until) conditions.push(`time < ${placeholder(query.until)}`);
  const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
  const limit = placeholder(query.limit);
  // A page with a start carries retention's watermark in its own snapshot, computed once (an InitPlan).
  const watermark = BigInt(query.afterSeq ?? 0) > 0n ? `, (${PURGED_THROUGH}) AS purged_through` : '';
  return {
    sql: `SELECT ${EVENT_COLUMNS}${watermark} FROM events ${where} ORDER BY seq LIMIT ${limit}`,
    params,
  };
}
