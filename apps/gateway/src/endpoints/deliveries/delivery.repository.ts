import { Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { HERALD_PROVIDER } from '@herald/events';
import { DataSource } from 'typeorm';
import { HeldConnection, preparedQuery } from '../../database/pg-pool.js';
import { EVENT_COLUMNS, type EventRow, toEnvelope } from '../../events/event-record.js';
import { typeMatches } from '../../events/type-matches.sql.js';
import { AdvisoryLock } from '../../database/advisory-locks.js';
import { Channel } from '../../database/pg-listener.service.js';
import { deleteDeliveries } from './delivery-deletion.sql.js';

/** Wakes every instance's delivery worker (delivered by Postgres at commit). */
const DELIVERY_WAKE_CHANNEL = Channel.deliveries;

export type DeliveryStatus = 'pending' | 'delivering' | 'delivered' | 'failed';

/**
 * Whether event `ev` goes to endpoint `e`: its type filter (anchored regexes), its sources, and never
 * Herald's own events about that very endpoint (a failing endpoint would otherwise feed itself).
 * The regexes run only for an event whose type is LIKE one of the patterns' literal prefixes
 * (`type_prefixes`, see the migration EndpointTypePrefixes): a regex per pattern of every endpoint, for
 * every event, recompiled once there were more than the 32 a connection keeps, made a publish 20 ms at
 * 1,000 endpoints (2.4 with none, 3.0 with the prefixes); LIKE compiles nothing. A nested AND is
 * evaluated left to right and stops at the first false (what Postgres's executor does, not a promise of
 * SQL's).
 */
const MATCHES_ENDPOINT = `
  (cardinality(e.types_regex) = 0 OR (ev.type LIKE ANY(e.type_prefixes) AND ev.type ~ ANY(e.types_regex)))
  AND (cardinality(e.sources) = 0 OR ev.source_id = ANY(e.sources))
  AND NOT (ev.provider = '${HERALD_PROVIDER}' AND ev.source_id = e.id)`;

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_seq: string;
  event_type: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  last_response_status: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  /** A pending delivery of a disabled endpoint waits for it, not for its next_attempt_at. */
  endpoint_enabled: boolean;
}

export interface AttemptRow {
  /** Null for attempts made before Herald recorded it. */
  url: string | null;
  attempted_at: Date;
  response_status: number | null;
  response_body: string | null;
  duration_ms: number;
  error: string | null;
}

/** A delivery this instance holds the lease of, with everything an attempt needs. */
export interface ClaimedDelivery {
  id: string;
  attemptCount: number;
  /** Retried by hand after it had settled: this attempt is its only one (see `makeDue`). */
  manualRetry: boolean;
  endpointId: string;
  url: string;
  /** Newest first; two while a rotation is in progress. */
  secrets: string[];
  /** The endpoint's own headers; null when it has none. */
  headers: Record<string, string> | null;
  /** The endpoint's attempts per second at most; null: no limit. */
  rateLimit: number | null;
  event: { id: string; type: string };
  /**
   * The event's envelope as JSON, the webhook's body. Serialized as the claim is read, so the row's
   * parsed objects (data, Dates, strings) die young: a claimed delivery waits up to ~50 ms for a slot and
   * its outcome, about one scavenge interval in a drain, and every object alive at a scavenge is copied
   * (docs/performance.md, 2026-12-05, fourth session).
   */
  body: string;
}

/** What one claim took, and when the next pending delivery falls due after it. */
export interface Claim {
  /**
   * Milliseconds from the claim's own `now()` to the next pending delivery's due time, by the database's
   * clock alone: a wait computed against this process's clock would be negative while that clock runs
   * ahead, and the worker would claim in a loop until the delivery fell due. Deliveries that were due
   * at `now()` but not claimed (endpoint saturated or disabled, row locked by another instance) are left
   * out, since waiting on them would spin; a finished attempt or a NOTIFY wakes the worker for them.
   */
  nextDueInMs: number | null;
  /**
   * Endpoints offered more due deliveries than the claim's `limit` could take: any endpoint that got
   * less than its share may still have due deliveries.
   */
  offeredMore: boolean;
  /** What each endpoint could offer at most: one given this many may have more due. */
  fairShare: number;
  deliveries: ClaimedDelivery[];
  /**
   * Claimed deliveries whose event no longer exists: queued by a replay that raced the event's retention
   * (no foreign key stops them; see the migration DropDeliveryForeignKeys). Nothing can be sent for them.
   */
  orphaned: string[];
}

export interface AttemptRecord {
  /** Where it was sent: the endpoint's URL may have changed since. */
  url: string;
  attemptedAt: Date;
  responseStatus: number | null;
  responseBody: string | null;
  durationMs: number;
  error: string | null;
}

/** Where the delivery goes after an attempt: retried after `retryInSeconds`, or settled. */
export type DeliveryTransition =
  { status: 'pending'; retryInSeconds: number } | { status: 'delivered' } | { status: 'failed' };

/**
 * Evaluated inside a worker statement, lets its transaction commit without waiting for the disk.
 * Losing such a commit in a database crash only makes a delivery due again, which at-least-once
 * already allows; events and their deliveries still commit synchronously in the writer's transaction.
 */
const ASYNC_COMMIT = `set_config('synchronous_commit', 'off', true)`;

const DELIVERY_COLUMNS = `d.id, d.endpoint_id, d.event_id, d.event_seq, ev.type AS event_type, d.status,
  d.attempt_count, d.next_attempt_at, d.last_attempt_at, d.last_response_status, d.last_error,
  d.created_at, d.updated_at, e.enabled AS endpoint_enabled`;
const DELIVERY_SOURCE = `deliveries d JOIN events ev ON ev.seq = d.event_seq JOIN endpoints e ON e.id = d.endpoint_id`;

/**
 * A page of endpoint $1's deliveries, newest first: of status $2 (null: any), before id $3, $4 of them.
 * Failed ones come from their own index (`deliveries_failed`).
 */
export const DELIVERY_PAGE_STATEMENT = `SELECT ${DELIVERY_COLUMNS} FROM ${DELIVERY_SOURCE}
  WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2) AND ($3::uuid IS NULL OR d.id < $3)
  ORDER BY d.id DESC LIMIT $4`;

/** A page of event $1's deliveries (to any endpoint, replays too), newest first: before id $2, $3 of them. */
const EVENT_DELIVERIES_STATEMENT = `SELECT ${DELIVERY_COLUMNS} FROM ${DELIVERY_SOURCE}
  WHERE d.event_seq = (SELECT seq FROM events WHERE id = $1) AND ($2::uuid IS NULL OR d.id < $2)
  ORDER BY d.id DESC LIMIT $3`;

/** The deliveries statistics are refreshed at most this often per instance (see `refreshStatistics`). */
const STATISTICS_REFRESH_MS = 10_000;

/** The least an endpoint offers a claim, however many endpoints share it (see CLAIM_STATEMENT). */
const MIN_FAIR_SHARE = 8;

/**
 * A rate-limited endpoint is claimed for this many seconds of its rate ahead at most (at least one
 * delivery): more would sit leased for minutes at a low rate, holding the instance's delivery limit, and
 * reserve starts far ahead (see `reserveSendTime`).
 */
export const RATE_LIMITED_AHEAD_SECONDS = 2;

/** How many deliveries of an endpoint limited to `rate` (a SQL expression) may be claimed ahead. */
const rateLimitedAhead = (rate: string): string => `ceil(${rate} * ${RATE_LIMITED_AHEAD_SECONDS})::int`;

/**
 * The claim: leases up to $3 due deliveries to instance $1 for $2 seconds, at most $7 per endpoint
 * minus its busy count ($5, $6), none of the saturated endpoints ($4); returns when the next one falls
 * due and the claimed rows with their events.
 *
 * Fair between endpoints: each enabled endpoint with pending deliveries offers its own oldest due ones,
 * up to its share and never more than the claim's limit or its fair share (the limit divided among the
 * endpoints with pending deliveries, at least MIN_FAIR_SHARE), read from `deliveries_due` (endpoint, due
 * time); the claim then takes them round robin (every endpoint's first, then every second, …). Without
 * the fair share, 940 endpoints with backlogs offered 128 each, 120,320 rows sorted to take 512: half a
 * second a claim (scale review). Only endpoints with something due count: one in retry backoff takes
 * no part of the claim. An endpoint given its whole fair share may have more due (`Claim.fairShare`).
 * A rate-limited one offers RATE_LIMITED_AHEAD_SECONDS of its rate at most, less what this instance
 * holds of it, from its first claim on. Taking
 * the oldest due deliveries of all endpoints instead let one endpoint's backlog (a replay, a slow
 * receiver) fill every claim's window
 * while another endpoint's new delivery waited behind it. The endpoints with pending deliveries are
 * found by skipping through that index one endpoint at a time (a recursive CTE), so a claim costs a
 * probe per such endpoint plus the rows it offers, whatever the size of any backlog, including those of
 * disabled endpoints, which are never read.
 *
 * Its plan must not depend on fresh statistics: deliveries arrive in bursts (a batch ingest, a replay)
 * far faster than autovacuum's ANALYZE follows, so claims routinely run while the statistics say there
 * is nothing pending. Everything here is an index probe by endpoint or by primary key, with nothing a
 * stale estimate could turn into a scan of the backlog (docs/performance.md, 2026-12-05). Each offered
 * row is locked through a LATERAL lookup by primary key alone, with nothing in it a partial index could
 * match, and nothing can be pushed into it (OFFSET 0). The UPDATE finds the locked rows by
 * `= ANY(ARRAY(…))`, an index condition on the primary key, and each claimed row fetches its event by
 * primary key in a subquery that cannot be flattened (OFFSET 0). A claimed row whose event is gone (see
 * `Claim.orphaned`) comes back without it; its endpoint cannot be, since the offers joined it in the
 * same statement's snapshot.
 * The rows come back in due order, then log order, which is the order the worker starts them in: a
 * hash join of the claimed rows (chained per bucket, newest first) sent a replay newest first.
 * The retired secrets are read only for an endpoint that has any: the subquery runs per claimed row,
 * ~1 µs each over an empty array, against ~0.2 µs for the comparison that skips it (200,000 rows,
 * embedded Postgres 18, twelfth session).
 * Prepared by name and always run with its generic plan (see `DeliveryRepository.claims`): planning
 * took ~680 µs, a quarter of Postgres's CPU per live delivered event when every claim was planned
 * afresh (docs/performance.md, tenth session).
 */
export const CLAIM_STATEMENT = `WITH RECURSIVE pending_endpoints AS (
    (SELECT d.endpoint_id FROM deliveries d WHERE d.status = 'pending' ORDER BY d.endpoint_id LIMIT 1)
    UNION ALL
    SELECT (SELECT d.endpoint_id FROM deliveries d
            WHERE d.status = 'pending' AND d.endpoint_id > p.endpoint_id ORDER BY d.endpoint_id LIMIT 1)
    FROM pending_endpoints p WHERE p.endpoint_id IS NOT NULL
  ), fair AS MATERIALIZED (
    SELECT greatest(ceil($3::float8 / greatest(count(*), 1))::int, ${MIN_FAIR_SHARE}) AS share
    FROM pending_endpoints p
    JOIN endpoints e ON e.id = p.endpoint_id AND e.enabled AND NOT (e.id = ANY($4::uuid[]))
    -- A probe per endpoint, which a semi-join (what EXISTS may become) would make a scan of the backlog.
    WHERE (SELECT true FROM deliveries d
           WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= now() LIMIT 1)
  ), candidates AS MATERIALIZED (
    SELECT d.id, d.endpoint_id, d.next_attempt_at,
           row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at) AS rank
    FROM pending_endpoints p
    JOIN endpoints e ON e.id = p.endpoint_id AND e.enabled AND NOT (e.id = ANY($4::uuid[]))
    LEFT JOIN unnest($5::uuid[], $6::int[]) AS b(endpoint_id, n) ON b.endpoint_id = e.id
    CROSS JOIN fair
    CROSS JOIN LATERAL (SELECT d.id, d.endpoint_id, d.next_attempt_at FROM deliveries d
                        WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= now()
                        ORDER BY d.next_attempt_at
                        LIMIT least($3, greatest($7 - coalesce(b.n, 0), 0), fair.share,
                                    CASE WHEN e.rate_limit IS NOT NULL
                                    THEN greatest(${rateLimitedAhead('e.rate_limit')} - coalesce(b.n, 0), 0) END)) d
  ), claimed AS (
    UPDATE deliveries d SET status = 'delivering', locked_by = $1, updated_at = now(),
           locked_until = now() + make_interval(secs => $2)
    WHERE d.id = ANY(ARRAY(
      SELECT locked.id
      FROM (SELECT c.id FROM candidates c ORDER BY c.rank, c.next_attempt_at LIMIT $3) c
      CROSS JOIN LATERAL (SELECT d2.id, d2.status, d2.next_attempt_at FROM deliveries d2 WHERE d2.id = c.id
                          OFFSET 0 FOR UPDATE SKIP LOCKED) locked
      WHERE locked.status = 'pending' AND locked.next_attempt_at <= now()))
    RETURNING d.id, d.endpoint_id, d.event_seq, d.attempt_count, d.manual_retry, d.next_attempt_at
  )
  SELECT clock.next_due_in_ms, clock.async_commit, clock.candidate_count, clock.fair_share, c.id AS delivery_id, c.attempt_count, c.manual_retry, c.endpoint_id, e.url,
         e.secret, CASE WHEN e.retired_secrets <> '[]' THEN
           (SELECT string_agg(r.secret ->> 'secret', ' ' ORDER BY r.n) FROM jsonb_array_elements(e.retired_secrets)
            WITH ORDINALITY AS r(secret, n) WHERE (r.secret ->> 'expiresAt')::timestamptz > now()) END AS retired_secrets,
         nullif(e.headers, '{}') AS headers, e.rate_limit, ev.*
  FROM (SELECT (extract(epoch FROM min(next.at) - now()) * 1000)::float8 AS next_due_in_ms,
               ${ASYNC_COMMIT} AS async_commit,
               (SELECT count(*) FROM candidates)::int AS candidate_count,
               (SELECT share FROM fair) AS fair_share
        FROM pending_endpoints p
        CROSS JOIN LATERAL (SELECT d.next_attempt_at AS at FROM deliveries d
                            WHERE d.endpoint_id = p.endpoint_id AND d.status = 'pending' AND d.next_attempt_at > now()
                            ORDER BY d.next_attempt_at LIMIT 1) next) clock
  LEFT JOIN (claimed c JOIN endpoints e ON e.id = c.endpoint_id
             LEFT JOIN LATERAL (SELECT ${EVENT_COLUMNS} FROM events WHERE seq = c.event_seq OFFSET 0) ev ON true) ON true
  ORDER BY c.next_attempt_at, c.event_seq`;

/**
 * `recordAttempts`' statement (see there), with the parameters `outcomeParameters` makes: $1 the
 * instance, $2 the outcomes as one JSON array (see `OutcomeJson`), $3 now. One JSON text rather than an
 * array parameter per field: node-postgres escapes every element of an array literal and formats every
 * Date in JavaScript, and building a batch of 500 that way blocked the event loop for 4–9 ms in the
 * drain's profile (docs/performance.md, 2026-12-05, fourth session).
 * Deliveries are found by primary key from the batch's ids (`id = ANY(…)`), both for the attempts and
 * for the update, never by joining the outcomes to the table alone: a planner then read the whole table
 * into a hash for the attempts of every batch (47,844 rows for 256 outcomes among 22,000 deliveries,
 * against 4,356; docs/performance.md, 2026-12-05, third session), and could walk every leased row for
 * each outcome in the update (160,000 comparisons for 8 outcomes with 20,000 deliveries in flight).
 * An outcome that owes a `herald.delivery.failing` marks it due in the same update, so the mark commits
 * with the failure (see HealthEventRecovery); any other outcome clears it.
 * A batch may be written again after an error that came after, or during, its commit (the connection
 * lost on the way back). Its attempts are then not stored twice: an attempt is keyed by its delivery and
 * start time (`delivery_attempts_once`), and an insert meeting one a running write holds waits for it.
 * Nor are they lost: one whose delivery no longer moves (the earlier try moved it, or its lease lapsed
 * meanwhile) is stored all the same.
 */
export const OUTCOMES_STATEMENT = `WITH outcome AS MATERIALIZED (
     SELECT o.id, o.attempts_before, o.url, to_timestamp(o.attempted_at_ms / 1000) AS attempted_at,
            o.response_status, o.response_body, o.duration_ms, o.error, o.next_status, o.retry_in, o.report_failure,
            o.ord
     FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (id uuid, attempts_before int, url text, attempted_at_ms float8,
                     response_status int, response_body text, duration_ms int, error text, next_status text,
                     retry_in float8, report_failure boolean))
          WITH ORDINALITY AS o(id, attempts_before, url, attempted_at_ms, response_status, response_body,
                               duration_ms, error, next_status, retry_in, report_failure, ord)
   ), moved AS (
     UPDATE deliveries d SET status = o.next_status, attempt_count = d.attempt_count + 1, manual_retry = false, locked_by = NULL,
            locked_until = NULL, updated_at = now(), last_attempt_at = o.attempted_at,
            last_response_status = o.response_status, last_error = o.error,
            next_attempt_at = CASE WHEN o.next_status = 'pending' THEN now() + make_interval(secs => o.retry_in) END,
            failure_report_due_at = CASE WHEN o.report_failure THEN $3::timestamptz END
     FROM outcome o
     WHERE d.id = o.id AND d.id = ANY(ARRAY(SELECT id FROM outcome)) AND d.locked_by = $1 AND d.status = 'delivering'
       AND d.attempt_count = o.attempts_before
     RETURNING d.id, d.endpoint_id, o.next_status = 'delivered' AS ok, o.ord
   ), attempt AS (
     INSERT INTO delivery_attempts (delivery_id, url, attempted_at, response_status, response_body, duration_ms, error)
     SELECT o.id, o.url, o.attempted_at, o.response_status, o.response_body, o.duration_ms, o.error
     FROM outcome o WHERE o.id IN (SELECT d.id FROM deliveries d WHERE d.id = ANY(ARRAY(SELECT id FROM outcome)))
     ORDER BY o.ord
     ON CONFLICT (delivery_id, attempted_at) DO NOTHING
   ), streak AS (
     SELECT v.endpoint_id,
            CASE WHEN v.last_ok THEN NULL WHEN v.any_ok THEN $3::timestamptz
                 WHEN e.last_failed_at < $3::timestamptz - make_interval(secs => $4) THEN $3::timestamptz
                 ELSE coalesce(e.failing_since, $3::timestamptz) END AS failing_since,
            CASE WHEN v.last_ok THEN NULL ELSE $3::timestamptz END AS last_failed_at
     FROM (SELECT endpoint_id, bool_or(ok) AS any_ok, (array_agg(ok ORDER BY ord DESC))[1] AS last_ok
           FROM moved GROUP BY endpoint_id) v
     JOIN endpoints e ON e.id = v.endpoint_id
   ), kept AS (
     UPDATE endpoints e SET failing_since = s.failing_since, last_failed_at = s.last_failed_at
     FROM streak s
     WHERE e.id = s.endpoint_id
       AND (e.failing_since IS DISTINCT FROM s.failing_since OR e.last_failed_at IS DISTINCT FROM s.last_failed_at)
   )
   SELECT m.id, s.failing_since, ${ASYNC_COMMIT} AS async_commit
   FROM moved m JOIN streak s USING (endpoint_id)`;

/** A failing streak's pause (see `OUTCOMES_STATEMENT`) unless the retry schedule waits longer: a day. */
export const DEFAULT_STREAK_PAUSE_SECONDS = 86_400;

/** One outcome as `OUTCOMES_STATEMENT` reads it (the keys are its column names). */
interface OutcomeJson {
  id: string;
  attempts_before: number;
  url: string;
  attempted_at_ms: number;
  response_status: number | null;
  response_body: string | null;
  duration_ms: number;
  error: string | null;
  next_status: DeliveryStatus;
  retry_in: number;
  /** Left out unless true: most outcomes owe no report. */
  report_failure?: true;
}

export interface Outcome {
  id: string;
  /**
   * The delivery's attempt count when it was claimed: the outcome moves it only from there, so a write
   * tried again moves nothing its first try (committed, its answer lost) moved already, not even once
   * this instance has claimed the delivery again.
   */
  attemptsBefore: number;
  attempt: AttemptRecord;
  next: DeliveryTransition;
  /** The attempt failed the delivery for good, and that owes a `herald.delivery.failing`. */
  reportFailure?: boolean;
}

/** Which stored events a replay queues again for an endpoint (its own filter applies as well). */
export interface ReplaySelection {
  /** `time` at or after this; null: from the oldest kept. */
  since: Date | null;
  /** `time` before this; null: any. */
  until: Date | null;
  /** `seq` after this; null: any. */
  afterSeq: string | null;
  typeRegexes: string[];
  /** Only events with no delivery to the endpoint other than failed ones (none delivered, queued or in flight). */
  missedOnly: boolean;
}

/** `replay`'s statement; `ofTypes` is its type condition with the patterns as parameters after $5. */
const REPLAY_STATEMENT = (ofTypes: string): string => `WITH queued AS (
    INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
    SELECT e.id, ev.seq, ev.id, 'pending', now()
    FROM endpoints e JOIN events ev
      ON ($2::timestamptz IS NULL OR ev.time >= $2) AND ($3::timestamptz IS NULL OR ev.time < $3)
         AND ${MATCHES_ENDPOINT}
         AND ($4::bigint IS NULL OR ev.seq > $4)
    WHERE e.id = $1 ${ofTypes}
      AND NOT ($5::boolean AND EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_seq = ev.seq AND d.endpoint_id = e.id
          AND d.status <> 'failed'))
    ORDER BY ev.seq
    RETURNING 1)
  SELECT count(*)::int AS queued,
         CASE WHEN count(*) > 0 THEN pg_notify('${DELIVERY_WAKE_CHANNEL}', '') END
  FROM queued`;

/** A failed delivery whose `herald.delivery.failing` may not be stored (see `failuresToReport`). */
export interface FailureToReport {
  id: string;
  endpointId: string;
  attempts: number;
  lastResponseStatus: number | null;
  lastError: string | null;
  failedAt: Date;
  /** Null once the endpoint or the event is gone: nothing is left to report. */
  url: string | null;
  eventId: string | null;
  eventType: string | null;
}

/** `OUTCOMES_STATEMENT`'s parameters. */
export function outcomeParameters(
  instanceId: string,
  outcomes: readonly Outcome[],
  now: Date,
  streakPauseSeconds = DEFAULT_STREAK_PAUSE_SECONDS,
): unknown[] {
  const json = outcomes.map(({ id, attemptsBefore, attempt, next, reportFailure }): OutcomeJson => ({
    id,
    attempts_before: attemptsBefore,
    url: attempt.url,
    attempted_at_ms: attempt.attemptedAt.getTime(),
    response_status: attempt.responseStatus,
    response_body: attempt.responseBody,
    duration_ms: attempt.durationMs,
    error: attempt.error,
    next_status: next.status,
    retry_in: next.status === 'pending' ? next.retryInSeconds : 0,
    ...(reportFailure && { report_failure: true }),
  }));
  return [instanceId, JSON.stringify(json), now, streakPauseSeconds];
}

/**
 * The deliveries queue in Postgres: fan-out, claims with leases, outcomes, and operator reads.
 * Statements that return rows end in a SELECT: TypeORM answers a bare UPDATE … RETURNING with
 * [rows, count] instead of the rows.
 */
@Injectable()
export class DeliveryRepository {
  private statisticsRefreshedAt = -Infinity;
  /**
   * Claims run one at a time per instance, on a connection of their own that always runs the claim's
   * generic plan: the generic plan cannot see the per-endpoint LIMITs and guesses a tenth of the table
   * under each, so Postgres kept planning every claim afresh (~1 ms, 13–16 µs per claimed delivery in
   * the bench's drain) for the same index-driven plan.
   */
  private readonly claims: HeldConnection;

  constructor(
    private readonly dataSource: DataSource,
    @InjectPinoLogger(DeliveryRepository.name) logger: PinoLogger,
  ) {
    this.claims = new HeldConnection(dataSource, (error) =>
      logger.warn({ err: error }, 'delivery claim connection lost'),
    );
  }

  /** Closes the claims' connection (the worker calls it once it has stopped claiming). */
  closeClaims(): void {
    this.claims.drop();
  }

  /**
   * One delivery per (new event, matching enabled endpoint), as a statement the event writer runs inside
   * its events INSERT (a data-modifying CTE, so no round trip of its own): `inserted` names the batch's
   * new rows (seq, id, type, source_id, provider). With `notify`, its RETURNING wakes the delivery
   * workers of other instances, and only when something was queued: it runs for every queued row, and
   * Postgres delivers one notification per channel and payload per transaction, at commit.
   */
  fanOut(inserted: string, firstDelaySeconds: number, notify: boolean): string {
    return `INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
       SELECT e.id, ev.seq, ev.id, 'pending', now() + make_interval(secs => ${firstDelaySeconds})
       FROM ${inserted} ev
       JOIN endpoints e ON e.enabled AND ${MATCHES_ENDPOINT}
       RETURNING ${notify ? `pg_notify('${DELIVERY_WAKE_CHANNEL}', '')` : '1'}`;
  }

  /**
   * Leases up to `limit` due deliveries of enabled endpoints to `instanceId`. `busy` holds this
   * instance's in-flight count per endpoint: each endpoint gets at most `perEndpoint` minus that, so a
   * backlog on one endpoint cannot take every slot (saturated endpoints are skipped outright).
   * SKIP LOCKED lets instances claim side by side without waiting on each other.
   */
  async claim(
    instanceId: string,
    leaseSeconds: number,
    limit: number,
    perEndpoint: number,
    busy: ReadonlyMap<string, number>,
  ): Promise<Claim> {
    const saturated = [...busy].filter(([, n]) => n >= perEndpoint).map(([id]) => id);
    const rows: Array<
      EventRow & {
        next_due_in_ms: number | null;
        async_commit: string;
        candidate_count: number;
        fair_share: number;
        delivery_id: string | null;
        attempt_count: number;
        manual_retry: boolean;
        endpoint_id: string;
        url: string;
        secret: string;
        /** Retired secrets still signing, newest first, space-separated (secrets hold no spaces). */
        retired_secrets: string | null;
        headers: Record<string, string> | null;
        rate_limit: number | null;
      }
    > = await this.claims.query({
      name: 'herald_delivery_claim',
      text: CLAIM_STATEMENT,
      values: [instanceId, leaseSeconds, limit, saturated, [...busy.keys()], [...busy.values()], perEndpoint],
    });
    const deliveries: ClaimedDelivery[] = [];
    const orphaned: string[] = [];
    for (const row of rows) {
      const { delivery_id, url, secret, retired_secrets } = row;
      if (delivery_id === null) continue;
      if (row.id === null) {
        orphaned.push(delivery_id);
        continue;
      }
      deliveries.push({
        id: delivery_id,
        attemptCount: row.attempt_count,
        manualRetry: row.manual_retry,
        endpointId: row.endpoint_id,
        url,
        // Text rather than an array: parsing a text[] per claimed row showed in profiles.
        secrets: retired_secrets === null ? [secret] : [secret, ...retired_secrets.split(' ')],
        headers: row.headers,
        rateLimit: row.rate_limit,
        event: { id: row.id, type: row.type },
        // The row carries the claim's own columns too; toEnvelope reads only the event's.
        body: JSON.stringify(toEnvelope(row)),
      });
    }
    return {
      nextDueInMs: rows[0]!.next_due_in_ms,
      offeredMore: rows[0]!.candidate_count > limit,
      fairShare: rows[0]!.fair_share,
      deliveries,
      orphaned,
    };
  }

  /** Deletes deliveries this instance holds the lease of, with their attempts (see `Claim.orphaned`). */
  async discard(instanceId: string, ids: string[]): Promise<void> {
    await this.dataSource.query(
      `WITH ${deleteDeliveries('gone', 'd.id = ANY($2::uuid[]) AND d.locked_by = $1')} SELECT count(*) FROM gone`,
      [instanceId, ids],
    );
  }

  /** Pending deliveries of endpoints that no longer exist, deleted with any attempts; returns how many. */
  async deleteStrays(): Promise<number> {
    const rows: Array<{ n: number }> = await this.dataSource.query(
      `WITH ${deleteDeliveries(
        'gone',
        "d.status = 'pending' AND NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.id = d.endpoint_id)",
      )}
       SELECT count(*)::int AS n FROM gone`,
    );
    return rows[0]?.n ?? 0;
  }

  /** Keeps the leases of attempts still running on this instance. */
  async extendLeases(instanceId: string, ids: string[], leaseSeconds: number): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource.query(
      `UPDATE deliveries SET locked_until = now() + make_interval(secs => $3)
       WHERE id = ANY($2::uuid[]) AND locked_by = $1 AND status = 'delivering'`,
      [instanceId, ids, leaseSeconds],
    );
  }

  /**
   * Reserves the next start the endpoint's rate limit allows, `1 / rateLimit` s after the one reserved
   * before it (by any instance), and answers how many milliseconds from now that is (0 or less: at once).
   * The endpoint's row lock orders concurrent reservations; a start reserved in the past counts from now,
   * so an idle endpoint sends at once rather than in a burst of what it saved up. Not an indexed column,
   * so the update is HOT; committed without waiting for the disk, since the row lock is held until the
   * commit and every reservation of the endpoint queues behind it (a reservation lost in a crash only
   * lets one start come early).
   */
  async reserveSendTime(endpointId: string, rateLimit: number): Promise<number> {
    const rows: Array<{ wait_ms: number }> = await this.dataSource.query(
      `WITH reserved AS (
         UPDATE endpoints SET next_send_at = greatest(next_send_at, clock_timestamp()) + make_interval(secs => 1.0 / $2)
         WHERE id = $1 RETURNING next_send_at)
       SELECT extract(epoch FROM next_send_at - clock_timestamp())::float8 * 1000 - 1000.0 / $2 AS wait_ms,
              ${ASYNC_COMMIT} AS async_commit
       FROM reserved`,
      [endpointId, rateLimit],
    );
    return rows[0]?.wait_ms ?? 0;
  }

  /** Gives leased deliveries back, due now, without counting an attempt (attempts never started). */
  async release(instanceId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource.query(
      `UPDATE deliveries SET status = 'pending', next_attempt_at = now(), locked_by = NULL,
              locked_until = NULL, updated_at = now()
       WHERE id = ANY($2::uuid[]) AND locked_by = $1 AND status = 'delivering'`,
      [instanceId, ids],
    );
  }

  /**
   * The reaper: leases that ran out belong to an instance that died (or lost the database) mid-attempt.
   * Their deliveries become due again; the attempt may have reached the receiver, so this is where
   * at-least-once can deliver twice.
   */
  async reapExpiredLeases(): Promise<number> {
    const rows: Array<{ reaped: number }> = await this.dataSource.query(
      `WITH reaped AS (
         UPDATE deliveries SET status = 'pending', next_attempt_at = now(), locked_by = NULL,
                locked_until = NULL, updated_at = now()
         WHERE id IN (SELECT id FROM deliveries WHERE status = 'delivering' AND locked_until < now()
                      FOR UPDATE SKIP LOCKED)
         RETURNING 1)
       SELECT count(*)::int AS reaped, CASE WHEN count(*) > 0 THEN pg_notify('${DELIVERY_WAKE_CHANNEL}', '') END
       FROM reaped`,
    );
    return rows[0]?.reaped ?? 0;
  }

  /**
   * Stores a batch of attempts and moves their deliveries on, in one statement. Each delivery changes
   * only while this instance still holds its lease: one reaped and re-claimed elsewhere is not
   * overwritten (its attempt is still stored); one deleted with its endpoint mid-attempt leaves nothing.
   * Each endpoint's failing streak follows its outcomes in batch order, as if recorded one by one: a
   * last success clears it, a failure after a success in the batch restarts it at `now`, failures
   * alone start it at `now` when none runs, or when the endpoint's last failure (`last_failed_at`)
   * was longer than `streakPauseSeconds` ago: one failure after a quiet spell says nothing of the days
   * before it (an endpoint that had failed once six days earlier was disabled by its next failure).
   * Decided here, where the endpoint's row is locked, so failures of one batch or of several instances
   * see one streak. Returned per recorded delivery: its endpoint's streak
   * afterwards. The statement is `OUTCOMES_STATEMENT`.
   */
  async recordAttempts(
    instanceId: string,
    outcomes: readonly Outcome[],
    now: Date,
    streakPauseSeconds: number,
  ): Promise<Map<string, Date | null>> {
    const rows: Array<{ id: string; failing_since: Date | null }> = await preparedQuery(
      this.dataSource,
      'herald_delivery_outcomes',
      OUTCOMES_STATEMENT,
      outcomeParameters(instanceId, outcomes, now, streakPauseSeconds),
    );
    return new Map(rows.map((row) => [row.id, row.failing_since]));
  }

  /**
   * Deliveries an attempt failed for good by `before` whose report recovery has not seen stored, oldest
   * first, read through the partial index of the marks (see the migration HealthEventReports).
   */
  failuresToReport(before: Date, limit: number): Promise<FailureToReport[]> {
    return this.dataSource.query(
      `SELECT d.id, d.endpoint_id AS "endpointId", d.attempt_count AS attempts,
              d.last_response_status AS "lastResponseStatus", d.last_error AS "lastError",
              d.failure_report_due_at AS "failedAt", e.url, ev.id AS "eventId", ev.type AS "eventType"
       FROM deliveries d
       LEFT JOIN endpoints e ON e.id = d.endpoint_id
       LEFT JOIN events ev ON ev.seq = d.event_seq
       WHERE d.failure_report_due_at <= $1
       ORDER BY d.failure_report_due_at LIMIT $2`,
      [before, limit],
    );
  }

  /** Clears the marks of `failures`, unless an attempt moved the delivery on since; returns how many. */
  async failuresReported(failures: readonly FailureToReport[]): Promise<number> {
    const rows: Array<{ n: number }> = await this.dataSource.query(
      `WITH cleared AS (
         UPDATE deliveries d SET failure_report_due_at = NULL
         FROM unnest($1::uuid[], $2::int[]) AS r(id, attempts)
         WHERE d.id = ANY($1::uuid[]) AND d.id = r.id AND d.attempt_count = r.attempts
           AND d.failure_report_due_at IS NOT NULL
         RETURNING 1)
       SELECT count(*)::int AS n FROM cleared`,
      [failures.map((f) => f.id), failures.map((f) => f.attempts)],
    );
    return rows[0]?.n ?? 0;
  }

  async countPending(): Promise<number> {
    const rows: Array<{ n: number }> = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM deliveries WHERE status = 'pending'`,
    );
    return rows[0]?.n ?? 0;
  }

  /** An endpoint's deliveries, newest first. */
  page(endpointId: string, status: DeliveryStatus | undefined, before: string | undefined, limit: number) {
    return this.dataSource.query(DELIVERY_PAGE_STATEMENT, [
      endpointId,
      status ?? null,
      before ?? null,
      limit,
    ]) as Promise<DeliveryRow[]>;
  }

  pageOfEvent(eventId: string, before: string | undefined, limit: number): Promise<DeliveryRow[]> {
    return this.dataSource.query(EVENT_DELIVERIES_STATEMENT, [eventId, before ?? null, limit]);
  }

  async findById(id: string): Promise<DeliveryRow | undefined> {
    const rows: DeliveryRow[] = await this.dataSource.query(
      `SELECT ${DELIVERY_COLUMNS} FROM ${DELIVERY_SOURCE} WHERE d.id = $1`,
      [id],
    );
    return rows[0];
  }

  attempts(deliveryId: string): Promise<AttemptRow[]> {
    return this.dataSource.query(
      `SELECT url, attempted_at, response_status, response_body, duration_ms, error
       FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempted_at, id`,
      [deliveryId],
    );
  }

  /**
   * Makes a delivery due now, whatever became of it before, unless its attempt is in flight or its
   * endpoint is disabled (claims skip those, so it would wait silently): says which, or `gone` when
   * the delivery or its endpoint no longer exists. A settled one (delivered, failed) gets one attempt,
   * a resend (`manual_retry`); a pending one keeps its schedule, only sooner.
   */
  async makeDue(id: string): Promise<'due' | 'in_flight' | 'endpoint_disabled' | 'gone'> {
    const rows: Array<{ status: string; enabled: boolean; due: boolean }> = await this.dataSource.query(
      `WITH target AS (
         SELECT d.id, d.status, e.enabled FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
         WHERE d.id = $1 FOR UPDATE OF d
       ), due AS (
         UPDATE deliveries d SET status = 'pending', next_attempt_at = now(), updated_at = now(),
                manual_retry = t.status IN ('delivered', 'failed')
         FROM target t WHERE d.id = t.id AND t.status <> 'delivering' AND t.enabled RETURNING d.id
       )
       SELECT t.status, t.enabled, EXISTS (SELECT 1 FROM due) AS due,
              (SELECT pg_notify('${DELIVERY_WAKE_CHANNEL}', '') FROM due) AS notified
       FROM target t`,
      [id],
    );
    const [row] = rows;
    if (!row) return 'gone';
    if (row.due) return 'due';
    return row.enabled ? 'in_flight' : 'endpoint_disabled';
  }

  /** New deliveries to one endpoint for stored events in [since, until) that match it (and `typeRegexes`). */
  async replay(endpointId: string, selection: ReplaySelection): Promise<number> {
    const { since, until, afterSeq, typeRegexes, missedOnly } = selection;
    const params: unknown[] = [endpointId, since, until, afterSeq, missedOnly];
    const placeholder = (value: unknown) => `$${params.push(value)}`;
    // Its own patterns as constants, which an index can serve (see `typeMatches`).
    const ofTypes = typeRegexes.length > 0 ? `AND ${typeMatches('ev.type', typeRegexes, placeholder)}` : '';
    // One at a time per endpoint, each after the last committed: two `missedOnly` replays side by side
    // (a double click, a client retrying through a load balancer) each queued every event again.
    const rows: Array<{ queued: number }> = await this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        AdvisoryLock.endpointReplays,
        endpointId,
      ]);
      return tx.query(REPLAY_STATEMENT(ofTypes), params);
    });
    const queued = rows[0]?.queued ?? 0;
    // A replay can add more rows at once than autovacuum has statistics for (see `refreshStatistics`).
    if (queued > 0) await this.refreshStatistics();
    return queued;
  }

  /**
   * Refreshes the planner's statistics of the deliveries table, at most every STATISTICS_REFRESH_MS per
   * instance (a replay and the worker's claims after it ask within milliseconds of each other), and not
   * while a VACUUM or ANALYZE holds the table. Autovacuum analyses a burst of new deliveries up to a
   * minute late, and until then the planner believes in the few pending rows it last saw: claims then
   * sort every due row instead of reading the due index in order, and outcomes join their batch by
   * nested loop. Measured on a 20,000 backlog (docs/performance.md, 2026-12-05): 54 and 85 µs of
   * Postgres time per delivery against 27 and 29.
   * Only when a tenth of the table (and at least 1,000 rows) changed since the last ANALYZE: a backlog
   * that merely waits (a receiver that is down) changes little, and analysing it every 10 s cost
   * 274–444 ms each time at 500,000 pending (DBA review, 2026-12-07).
   */
  async refreshStatistics(): Promise<void> {
    if (Date.now() - this.statisticsRefreshedAt < STATISTICS_REFRESH_MS) return;
    this.statisticsRefreshedAt = Date.now();
    await this.dataSource.query(
      `DO $$ BEGIN
         IF (SELECT n_mod_since_analyze > greatest(1000, n_live_tup / 10)
             FROM pg_stat_user_tables WHERE relid = 'deliveries'::regclass) THEN
           ANALYZE (SKIP_LOCKED) deliveries;
         END IF;
       END $$`,
    );
  }
}
