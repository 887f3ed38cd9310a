import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import {
  CLAIM_STATEMENT,
  OUTCOMES_STATEMENT,
  outcomeParameters,
} from '../src/endpoints/deliveries/delivery.repository.js';
import { apiClient, eventually } from './support/http.js';
import { type PlanNode, rowsDiscarded, rowsProduced } from './support/query-plans.js';
import { startTestApp } from './support/test-app.js';

const BACKLOG = 20_000;
const LIMIT = 512;
const PER_ENDPOINT = 256;

/** Rows the plan threw away after reading them, and rows its nodes produced, over all their loops. */
const work = (plan: PlanNode) => ({ discarded: rowsDiscarded(plan), produced: rowsProduced(plan) });

/**
 * The claim runs right after a burst of new deliveries, before autovacuum has analysed them, and the
 * outcomes of what it claimed follow; their plans must not trust statistics that say nothing is
 * pending. Work is counted in rows, not timed: the claim plan that trusted them compared every due row
 * with every candidate (backlog × 4 × limit rows). The tests run in order on one backlog: the outcomes
 * are those of the first test's claim.
 */
describe('the delivery claim and its outcomes with statistics that predate the backlog', () => {
  let db: pg.Client;
  let databaseUrl: string;
  const instanceId = randomUUID();
  let endpointId: string;
  const insert = (type: string, count: number, status: string) =>
    db.query(
      `WITH e AS (
         INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data)
         SELECT nextval('event_seq'), gen_random_uuid(), $1, $2, 'herald', NULL, now(), now(), '{}'
         FROM generate_series(1, $3)
         RETURNING seq, id)
       INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
       SELECT $4, seq, id, $5, CASE WHEN $5 = 'pending' THEN now() - interval '1 second' END FROM e`,
      [type, randomUUID(), count, endpointId, status],
    );

  beforeAll(async () => {
    const herald = await startTestApp();
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    const endpoint = await admin('POST', '/v1/endpoints', { body: { url: 'http://127.0.0.1:9/hook' } });
    expect(endpoint.status).toBe(201);
    endpointId = endpoint.body.id;
    // The app (and its worker) must not claim the backlog itself.
    await herald.close();
    databaseUrl = herald.databaseUrl;
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    await db.query('ALTER TABLE deliveries SET (autovacuum_enabled = false)');
    // Statistics taken when everything so far was delivered, as after a quiet spell.
    await insert('earlier.item', 2_000, 'delivered');
    await db.query('ANALYZE deliveries');
    await insert('backlog.item', BACKLOG, 'pending');
  });
  afterAll(() => db?.end());

  it('has a generic plan (the claim is prepared by name) with work in proportion to the claim', async () => {
    // Rolled back, so the tests below find the backlog as it was; PREPARE is not undone by it.
    await db.query('BEGIN');
    try {
      await db.query('SET LOCAL plan_cache_mode = force_generic_plan');
      await db.query(`PREPARE generic_claim AS ${CLAIM_STATEMENT}`);
      const explained = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
        `EXPLAIN (ANALYZE, FORMAT JSON)
         EXECUTE generic_claim('${instanceId}', 10, ${LIMIT}, '{}', '{}', '{}', ${PER_ENDPOINT})`,
      );
      const plan = explained.rows[0]!['QUERY PLAN'][0]!.Plan;
      // A generic plan keeps the parameters as such; a custom one would show their values.
      expect(JSON.stringify(plan)).toContain('ALL ($4)');
      const { discarded, produced } = work(plan);
      expect(plan['Actual Rows']).toBe(PER_ENDPOINT);
      expect(discarded).toBeLessThan(LIMIT * 4);
      expect(produced).toBeLessThan(LIMIT * 4 * 20);
    } finally {
      await db.query('ROLLBACK');
      await db.query('DEALLOCATE ALL');
    }
  });

  it('claims its share with work in proportion to the claim, not to backlog × candidates', async () => {
    const explained = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${CLAIM_STATEMENT}`,
      [instanceId, 10, LIMIT, [], [], [], PER_ENDPOINT],
    );
    const plan = explained.rows[0]!['QUERY PLAN'][0]!.Plan;
    const { discarded, produced } = work(plan);

    expect(plan['Actual Rows']).toBe(PER_ENDPOINT);
    // The good plan touches each candidate a few times: under 20 rows per candidate in all.
    expect(discarded).toBeLessThan(LIMIT * 4);
    expect(produced).toBeLessThan(LIMIT * 4 * 20);
    const claimed = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM deliveries WHERE status = 'delivering'`,
    );
    expect(claimed.rows[0]!.n).toBe(PER_ENDPOINT);
  });

  it('records the outcomes of a claim with work in proportion to the batch, not to the table', async () => {
    const leased = await db.query<{ id: string }>(`SELECT id FROM deliveries WHERE locked_by = $1`, [
      instanceId,
    ]);
    const ids = leased.rows.map((row) => row.id);
    expect(ids).toHaveLength(PER_ENDPOINT);
    // The rest of the backlog in flight on other instances: the lease index then holds 20,000 rows.
    const othersLease = `status = 'delivering', locked_by = 'another-instance', locked_until = now() + interval '10 seconds'`;
    await db.query(`UPDATE deliveries SET ${othersLease} WHERE status = 'pending'`);
    const now = new Date();
    const attempt = {
      url: 'https://example.com/plan',
      attemptedAt: now,
      responseStatus: 204,
      responseBody: '',
      durationMs: 1,
      error: null,
    };
    const outcomes = ids.map((id) => ({
      id,
      attemptsBefore: 0,
      attempt,
      next: { status: 'delivered' as const },
    }));
    const explained = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${OUTCOMES_STATEMENT}`,
      outcomeParameters(instanceId, outcomes, now),
    );
    await db.query(
      `UPDATE deliveries SET status = 'pending', locked_by = NULL, locked_until = NULL
       WHERE locked_by = 'another-instance'`,
    );
    const plan = explained.rows[0]!['QUERY PLAN'][0]!.Plan;
    const { discarded, produced } = work(plan);

    expect(plan['Actual Rows']).toBe(PER_ENDPOINT);
    // Reading the table into a hash for the batch produced 47,844 rows here (the whole table, twice);
    // walking the lease index for the batch discarded every other leased row (19,744).
    expect(produced).toBeLessThan(PER_ENDPOINT * 20);
    expect(discarded).toBeLessThan(PER_ENDPOINT);
    const stored = await db.query<{ delivered: number; attempts: number }>(
      `SELECT (SELECT count(*)::int FROM deliveries WHERE status = 'delivered' AND attempt_count = 1) AS delivered,
              (SELECT count(*)::int FROM delivery_attempts) AS attempts`,
    );
    expect(stored.rows[0]).toEqual({ delivered: PER_ENDPOINT, attempts: PER_ENDPOINT });
  });

  const analysedAt = async () =>
    (
      await db.query<{ at: Date | null }>(
        `SELECT last_analyze AS at FROM pg_stat_user_tables WHERE relname = 'deliveries'`,
      )
    ).rows[0]!.at?.getTime() ?? 0;

  it('leaves statistics that still describe the backlog alone when a claim finds it', async () => {
    // This connection's counts of its earlier writes are flushed to the statistics lazily (up to a
    // second later): flushed after the ANALYZE, they counted as changes since it.
    await db.query('SELECT pg_stat_force_next_flush()');
    await db.query('SELECT 1');
    await db.query('ANALYZE deliveries');
    const before = await analysedAt();
    const herald = await startTestApp({}, databaseUrl);
    try {
      // Claimed and tried (the endpoint refuses connections), so a claim has seen the backlog.
      await eventually(async () => {
        const { rows } = await db.query(`SELECT count(*)::int AS n FROM delivery_attempts`);
        return rows[0].n > PER_ENDPOINT;
      });
      expect(await analysedAt()).toBe(before);
    } finally {
      await herald.close();
    }
  });

  it('has the worker refresh the statistics once a claim finds a backlog they predate', async () => {
    // A burst since: a quarter of the table, more than the tenth that makes them stale.
    await insert('late.burst', 8_000, 'pending');
    await db.query('SELECT pg_stat_force_next_flush()');
    const before = await analysedAt();
    const herald = await startTestApp({}, databaseUrl);
    try {
      await eventually(async () => (await analysedAt()) > before);
    } finally {
      await herald.close();
    }
  });
});

/**
 * One endpoint's backlog must not hold back another endpoint's deliveries: each endpoint offers its own
 * oldest due deliveries, and the claim takes them round robin.
 */
describe('the delivery claim across endpoints', () => {
  let db: pg.Client;
  const endpoints: { backlogged: string; quiet: string; paused: string } = {
    backlogged: '',
    quiet: '',
    paused: '',
  };

  beforeAll(async () => {
    const herald = await startTestApp();
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    for (const name of Object.keys(endpoints) as Array<keyof typeof endpoints>) {
      const created = await admin('POST', '/v1/endpoints', {
        body: { url: 'http://127.0.0.1:9/hook', enabled: name !== 'paused' },
      });
      endpoints[name] = created.body.id;
    }
    await herald.close();
    db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    const queue = (endpointId: string, count: number, dueSecondsAgo: number) =>
      db.query(
        `WITH e AS (
           INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data)
           SELECT nextval('event_seq'), gen_random_uuid(), 'fair.item', $1, 'herald', NULL, now(), now(), '{}'
           FROM generate_series(1, $2)
           RETURNING seq, id)
         INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
         SELECT $3, seq, id, 'pending', now() - make_interval(secs => $4) FROM e`,
        [randomUUID(), count, endpointId, dueSecondsAgo],
      );
    // A paused endpoint's backlog, the oldest of all, and an active backlog older than the quiet
    // endpoint's one delivery.
    await queue(endpoints.paused, 5_000, 120);
    await queue(endpoints.backlogged, 5_000, 60);
    await queue(endpoints.quiet, 1, 1);
  });
  afterAll(() => db?.end());

  it("claims the quiet endpoint's delivery beside the backlog, and reads nothing of the paused one", async () => {
    const limit = 16;
    const explained = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${CLAIM_STATEMENT}`,
      [randomUUID(), 10, limit, [], [], [], PER_ENDPOINT],
    );
    const plan = explained.rows[0]!['QUERY PLAN'][0]!.Plan;
    // Round robin: the quiet endpoint's one delivery, then the backlog's oldest up to its fair share:
    // the limit shared by the two enabled endpoints (the worker claims again for the rest).
    const fairShare = limit / 2;
    expect(plan['Actual Rows']).toBe(1 + fairShare);
    const claimed = await db.query<{ endpoint_id: string; n: number }>(
      `SELECT endpoint_id, count(*)::int AS n FROM deliveries WHERE status = 'delivering' GROUP BY endpoint_id`,
    );
    expect(Object.fromEntries(claimed.rows.map((row) => [row.endpoint_id, row.n]))).toEqual({
      [endpoints.quiet]: 1,
      [endpoints.backlogged]: fairShare,
    });
    // Offers are read per endpoint: the backlog up to its share, the paused endpoint not at all.
    expect(work(plan).produced).toBeLessThan(PER_ENDPOINT * 20);
  });
});

/**
 * Hundreds of endpoints with deliveries due at once (a burst every endpoint subscribes to): each offers
 * its fair share of the claim, not its whole per-endpoint bound, which sorted endpoints × 128 rows.
 */
describe('the delivery claim with many backlogged endpoints', () => {
  const ENDPOINTS = 400;
  const DUE_EACH = 64;
  let db: pg.Client;

  beforeAll(async () => {
    const herald = await startTestApp();
    await herald.close();
    db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    await db.query(
      `WITH e AS (
         INSERT INTO endpoints (id, url, description, filter_types, types_regex, sources, enabled, secret, retired_secrets)
         SELECT gen_random_uuid(), 'http://127.0.0.1:9/hook', '', '{}', '{}', '{}', true, 'whsec_x', '[]'
         FROM generate_series(1, $1)
         RETURNING id)
       INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
       SELECT e.id, n, gen_random_uuid(), 'pending', now() - interval '1 second'
       FROM e CROSS JOIN generate_series(1, $2) AS n`,
      [ENDPOINTS, DUE_EACH],
    );
    await db.query('ANALYZE deliveries');
  });
  afterAll(() => db?.end());

  it('reads a fair share of each, in proportion to the claim', async () => {
    await db.query('BEGIN');
    try {
      const explained = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${CLAIM_STATEMENT}`,
        [randomUUID(), 10, LIMIT, [], [], [], 128],
      );
      const plan = explained.rows[0]!['QUERY PLAN'][0]!.Plan;
      // One round robin pass of the 400 endpoints, then 112 of their second.
      expect(plan['Actual Rows']).toBe(LIMIT);
      // Each offered 8 (the least fair share), not its 64 due: 35,980 rows produced here, against
      // 190,776 when each offered all it had due.
      expect(work(plan).produced).toBeLessThan(ENDPOINTS * DUE_EACH * 2);
    } finally {
      await db.query('ROLLBACK');
    }
  });
});

/** Endpoints waiting out a retry take no part of a claim: they have nothing due. */
describe('the delivery claim beside endpoints in retry backoff', () => {
  let db: pg.Client;
  let hot: string;

  beforeAll(async () => {
    const herald = await startTestApp();
    await herald.close();
    db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    const endpoints = (count: number) =>
      db.query<{ id: string }>(
        `INSERT INTO endpoints (id, url, description, filter_types, types_regex, sources, enabled, secret, retired_secrets)
         SELECT gen_random_uuid(), 'http://127.0.0.1:9/hook', '', '{}', '{}', '{}', true, 'whsec_x', '[]'
         FROM generate_series(1, $1) RETURNING id`,
        [count],
      );
    hot = (await endpoints(1)).rows[0]!.id;
    const waiting = (await endpoints(300)).rows.map((row) => row.id);
    await db.query(
      `INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
       SELECT $1, n, gen_random_uuid(), 'pending', now() - interval '1 second' FROM generate_series(1, 1000) AS n
       UNION ALL
       SELECT w, 0, gen_random_uuid(), 'pending', now() + interval '10 minutes' FROM unnest($2::uuid[]) AS w`,
      [hot, waiting],
    );
  });
  afterAll(() => db?.end());

  it('gives the one endpoint with deliveries due its whole share', async () => {
    await db.query('BEGIN');
    try {
      await db.query(CLAIM_STATEMENT, [randomUUID(), 10, LIMIT, [], [], [], 128]);
      const claimed = await db.query(
        `SELECT count(*)::int AS n FROM deliveries WHERE endpoint_id = $1 AND status = 'delivering'`,
        [hot],
      );
      // Counted among 301 endpoints, its fair share was 8.
      expect(claimed.rows[0].n).toBe(128);
    } finally {
      await db.query('ROLLBACK');
    }
  });
});
