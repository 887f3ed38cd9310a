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

@Injectable()
export class EventRepository {
  constructor(private readonly dataSource: DataSource) {}

  async findById(id: string, includeRaw: boolean): Promise<EventRow | undefined> {
    const columns = includeRaw ? `${EVENT_COLUMNS}, raw, raw_content_type` : EVENT_COLUMNS;
    const rows: EventRow[] = await this.dataSource.query(`SELECT ${columns} FROM events WHERE id = $1`, [id]);
    return rows[0];
  }

  async seqOf(id: string): Promise<string | undefined> {
    const rows: Array<{ seq: string }> = await this.dataSource.query('SELECT seq FROM events WHERE id = $1', [
      id,
    ]);
    return rows[0]?.seq;
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
      `SELECT (SELECT purged_through_seq FROM event_log_retention WHERE id = 1) AS purged,
              pg_sequence_last_value('event_seq') AS issued`,
    );
    return { purgedThrough: BigInt(rows[0]?.purged ?? 0), lastIssued: BigInt(rows[0]?.issued ?? 0) };
  }

  /** Events in seq order. Commits are seq-ordered, so what a query sees is always a prefix of the log. */
  query(query: EventQuery): Promise<EventRow[]> {
    const { sql, params } = eventQueryStatement(query);
    return this.dataSource.query(sql, params);
  }
}

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
  return { sql: `SELECT ${EVENT_COLUMNS} FROM events ${where} ORDER BY seq LIMIT ${limit}`, params };
}
