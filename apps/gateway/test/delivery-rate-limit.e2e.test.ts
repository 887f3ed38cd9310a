import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { Channel } from '../src/database/pg-listener.service.js';
import { apiClient, eventually, publishConcurrently } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

/** Most arrivals within any `windowMs` (arrival times in ms, in order). */
function mostWithin(times: number[], windowMs: number): number {
  let most = 0;
  for (let first = 0, last = 0; last < times.length; last++) {
    while (times[last]! - times[first]! >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

describe('outbound webhooks: an endpoint rate limit', () => {
  // Two instances on one database, both sending: the limit is the endpoint's, not each instance's.
  let one: TestApp;
  let two: TestApp;
  let admin: ReturnType<typeof apiClient>;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    one = await startTestApp({});
    two = await startTestApp({}, one.databaseUrl);
    admin = apiClient(one.baseUrl, one.adminToken);
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await Promise.all([one.close(), two.close()]);
  });

  it('spaces attempts to the rate across instances, sends every delivery, and lets other endpoints run free', async () => {
    const limited = await admin('POST', '/v1/endpoints', {
      body: { url: receiver.url, filter: { types: ['paced.*'] }, rateLimit: 10 },
    });
    expect(limited.status).toBe(201);
    expect(limited.body.rateLimit).toBe(10);
    const free = await startWebhookReceiver();
    try {
      await admin('POST', '/v1/endpoints', { body: { url: free.url, filter: { types: ['free.*'] } } });
      // Published through both instances, so both claim and send.
      const published = await Promise.all([
        publishConcurrently(admin, 'paced.tick', 15),
        publishConcurrently(apiClient(two.baseUrl, one.adminToken), 'paced.tick', 15),
        publishConcurrently(admin, 'free.tick', 30),
      ]);
      expect(published.flat()).toHaveLength(60);
      // The unlimited endpoint is not held back by the limited one's wait: it is done while the limited
      // one has sent well under half of its 30 (one every 100 ms).
      await eventually(() => free.received.length === 30, 5_000);
      expect(receiver.received.length).toBeLessThan(15);

      await eventually(() => receiver.received.length === 30, 10_000);
      const times = receiver.received.map((webhook) => webhook.at).sort((a, b) => a - b);
      // 30 at 10 per second, evenly spaced: about 2.9 s from the first to the last (without the limit,
      // well under half a second). Starts are reserved 100 ms apart, but arrivals here go through one
      // event loop shared by both instances, the receiver and the test, which a loaded machine stalls now
      // and then, bunching the arrivals behind a stall: hence the margin over 11 in a second.
      expect(times.at(-1)! - times[0]!).toBeGreaterThan(2_600);
      expect(mostWithin(times, 1_000)).toBeLessThanOrEqual(15);
      const db = one.app.get(DataSource);
      const delivered = async () =>
        (
          await db.query(
            `SELECT count(*)::int AS n FROM deliveries WHERE endpoint_id = $1 AND status = 'delivered'`,
            [limited.body.id],
          )
        )[0].n;
      // The last outcome is recorded just after its webhook arrived.
      await eventually(async () => (await delivered()) === 30);
      // Each delivery was sent once: the limit delayed attempts, it did not fail them.
      expect(new Set(receiver.received.map((w) => w.headers['webhook-id'])).size).toBe(30);
    } finally {
      await free.close();
    }
  });

  it('claims two seconds of the rate ahead at most, and a change reaches the deliveries waiting for their turn', async () => {
    const paced = await startWebhookReceiver();
    try {
      const created = await admin('POST', '/v1/endpoints', {
        body: {
          url: paced.url,
          filter: { types: ['turns.*'] },
          rateLimit: 1,
          headers: { 'X-Version': 'old' },
        },
      });
      // Eight due at once, so the first claim of each instance finds them all (published one by one,
      // each would be claimed as it came, in claims of one).
      const db = one.app.get(DataSource);
      await db.query(
        `WITH e AS (
           INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data)
           SELECT nextval('event_seq'), gen_random_uuid(), 'turns.tick', gen_random_uuid(), 'custom', NULL,
                  now(), now(), '{}'
           FROM generate_series(1, 8)
           RETURNING seq, id)
         INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
         SELECT $1, seq, id, 'pending', now() FROM e`,
        [created.body.id],
      );
      await db.query(`SELECT pg_notify('${Channel.deliveries}', '')`);
      await eventually(() => paced.received.length === 1);
      // From the first claim on: two per instance (the one sending and the next), not all eight.
      const [{ n }] = await db.query(
        `SELECT count(*)::int AS n FROM deliveries WHERE endpoint_id = $1 AND status = 'delivering'`,
        [created.body.id],
      );
      expect(n).toBeLessThanOrEqual(4);
      await admin('PATCH', `/v1/endpoints/${created.body.id}`, { body: { headers: { 'X-Version': 'new' } } });
      await eventually(() => paced.received.length === 8, 20_000);
      // Those waiting for their turn went back and were sent as the endpoint is now; one may have been
      // on its way as it changed.
      const versions = paced.received.map((webhook) => webhook.headers['x-version']);
      expect(versions.slice(2)).toEqual(Array(6).fill('new'));
      expect(new Set(paced.received.map((webhook) => webhook.headers['webhook-id'])).size).toBe(8);
    } finally {
      await paced.close();
    }
  });

  it('takes a limit off with null, and refuses one that is not a whole number from 1 to 1000', async () => {
    const created = await admin('POST', '/v1/endpoints', {
      body: { url: receiver.url, filter: { types: ['unpaced.*'] }, rateLimit: 1 },
    });
    const patched = await admin('PATCH', `/v1/endpoints/${created.body.id}`, { body: { rateLimit: null } });
    expect(patched.body.rateLimit).toBeNull();
    const before = receiver.received.length;
    const started = performance.now();
    await publishConcurrently(admin, 'unpaced.tick', 10);
    await eventually(() => receiver.received.length === before + 10, 5_000);
    // At one per second this would take 9 s.
    expect(performance.now() - started).toBeLessThan(3_000);
    for (const rateLimit of [0, 1_001, 2.5, '5']) {
      const refused = await admin('PATCH', `/v1/endpoints/${created.body.id}`, { body: { rateLimit } });
      expect({ status: refused.status, field: refused.body.errors?.[0]?.field }).toEqual({
        status: 400,
        field: 'rateLimit',
      });
    }
  });
});
