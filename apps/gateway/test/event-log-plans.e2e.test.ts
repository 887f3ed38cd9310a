import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { typePatternToRegex } from '@herald/events';
import pg from 'pg';
import {
  DEDUP_KEY_LOOKBACK,
  eventQueryStatement,
  EventRepository,
  LAST_DEDUP_KEY_STATEMENT,
} from '../src/events/event.repository.js';
import { DELIVERY_PAGE_STATEMENT } from '../src/endpoints/deliveries/delivery.repository.js';
import { type PlanNode, planNodes, rowsDiscarded } from './support/query-plans.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const LOG = 200_000;

/**
 * A type filter reads the events of its types by index, not the whole log with the filter applied to
 * each row. Work is counted in rows read and thrown away, not timed.
 */
describe('reads of a large event log', () => {
  let herald: TestApp;
  let db: pg.Client;
  const source = randomUUID();

  beforeAll(async () => {
    herald = await startTestApp();
    db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    // One event in 10,000 of a rare type, the rest of five common ones.
    await db.query(
      `INSERT INTO events (seq, id, type, source_id, provider, time, received_at, data)
       SELECT nextval('event_seq'), gen_random_uuid(),
              CASE WHEN g % 10000 = 0 THEN 'jellyfish.room.crashed' ELSE 'seatable.row.m' || (g % 5) END,
              $1, 'seatable', now(), now(), '{}'
       FROM generate_series(1, ${LOG}) g`,
      [source],
    );
    await db.query('ANALYZE events');
  }, 60_000);
  afterAll(async () => {
    await db.end();
    await herald.close();
  });

  const explain = async (patterns: string[], afterSeq?: string) => {
    const { sql, params } = eventQueryStatement({
      typeRegexes: patterns.map(typePatternToRegex),
      afterSeq,
      limit: 100,
    });
    const [row] = (await db.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params)).rows;
    const plan: PlanNode = row['QUERY PLAN'][0].Plan;
    const all = [...planNodes(plan)];
    return {
      discarded: rowsDiscarded(plan),
      indexes: new Set(all.map((node) => node['Index Name']).filter(Boolean)),
      rows: (await db.query(sql, params)).rows.length,
    };
  };

  it.each([
    [['jellyfish.room.crashed']],
    [['jellyfish.room.*']],
    [['jellyfish.**']],
    [['jellyfish.*.crashed', 'other.type']],
  ])('reads the matching events by index for %j', async (patterns) => {
    const read = await explain(patterns);
    expect(read.rows).toBe(LOG / 10_000);
    expect(read.discarded).toBeLessThan(1_000);
    expect(read.indexes).toContain('events_type_pattern');
  });

  it("looks for a stream's checkpoint among the source's last events only", async () => {
    const [row] = (
      await db.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${LAST_DEDUP_KEY_STATEMENT}`, [source, 'base:'])
    ).rows;
    const read = Math.max(
      ...[...planNodes(row['QUERY PLAN'][0].Plan)].map((node) => node['Actual Rows'] * node['Actual Loops']),
    );
    expect(read).toBeLessThanOrEqual(DEDUP_KEY_LOOKBACK);
    // One among them is found.
    await db.query(`UPDATE events SET dedup_key = 'base:v7' WHERE seq = (SELECT max(seq) - 5 FROM events)`);
    expect(await herald.app.get(EventRepository).lastDedupKey(source, 'base:')).toBe('base:v7');
  });

  it("lists an endpoint's failed deliveries by index among many delivered ones", async () => {
    const endpoint = randomUUID();
    await db.query(
      `INSERT INTO endpoints (id, url, secret) VALUES ($1, 'http://127.0.0.1:9/x', 'whsec_' || repeat('A', 43))`,
      [endpoint],
    );
    await db.query(
      `INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
       SELECT $1, seq, id, CASE WHEN seq % 20000 = 0 THEN 'failed' ELSE 'delivered' END, now()
       FROM events`,
      [endpoint],
    );
    await db.query('ANALYZE deliveries');
    const [row] = (
      await db.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${DELIVERY_PAGE_STATEMENT}`, [
        endpoint,
        'failed',
        null,
        100,
      ])
    ).rows;
    const plan: PlanNode = row['QUERY PLAN'][0].Plan;
    expect([...planNodes(plan)].map((node) => node['Index Name']).filter(Boolean)).toContain(
      'deliveries_failed',
    );
    expect(rowsDiscarded(plan)).toBeLessThan(1_000);
  });

  it('pages on from a cursor the same way', async () => {
    // A pattern, not an exact type: an exact one used the old index already, under a C collation.
    const read = await explain(['jellyfish.room.*'], String(LOG / 2));
    expect(read.rows).toBe(LOG / 20_000);
    expect(read.discarded).toBeLessThan(1_000);
    expect(read.indexes).toContain('events_type_pattern');
  });
});
