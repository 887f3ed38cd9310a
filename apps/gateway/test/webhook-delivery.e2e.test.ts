import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';
import { Channel, PgListener } from '../src/database/pg-listener.service.js';
import { DeliveryClock } from '../src/endpoints/deliveries/delivery-clock.js';
import { SUSTAINED_FAILURE_MS } from '../src/endpoints/deliveries/delivery-outcomes.js';
import {
  DeliveryWorker,
  PER_ENDPOINT_CONCURRENCY,
} from '../src/endpoints/deliveries/delivery-worker.service.js';
import {
  DeliveryRepository,
  OUTCOMES_STATEMENT,
  outcomeParameters,
} from '../src/endpoints/deliveries/delivery.repository.js';
import { ATTEMPT_TIMEOUT_MS, WebhookSender } from '../src/endpoints/deliveries/webhook-sender.js';
import { EndpointRepository } from '../src/endpoints/endpoint.repository.js';
import { hookClaims } from './support/claim-hook.js';
import { apiClient, eventually, publishConcurrently } from './support/http.js';
import { capturedLogs, startTestApp, type TestApp } from './support/test-app.js';
import {
  type ReceiverAnswer,
  startWebhookReceiver,
  type WebhookReceiver,
} from './support/webhook-receiver.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Seconds; the delay before attempt n+1 is SCHEDULE[n], jittered by ±20 %. */
const SCHEDULE = [0, 0.3, 0.6];
/**
 * Slack for the worker's wake-up and the round trip on top of a scheduled delay: generous, because a
 * loaded CI machine delayed one by more than 150 ms, yet far below the 2 s poll that a retry missed by
 * its timer would wait for.
 */
const LATENESS_MS = 500;

describe('outbound webhook delivery', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;
  let receiver: WebhookReceiver;

  const logs = capturedLogs();

  beforeAll(async () => {
    herald = await startTestApp({ HERALD_RETRY_SCHEDULE: SCHEDULE.join(',') }, undefined, 0, logs.logger);
    admin = apiClient(herald.baseUrl, herald.adminToken);
  });
  afterAll(() => herald.close());
  afterEach(() => receiver?.close());

  async function endpointFor(url: string, types: string[]): Promise<{ id: string; secret: string }> {
    const created = await admin('POST', '/v1/endpoints', { body: { url, filter: { types } } });
    expect(created.status).toBe(201);
    return created.body;
  }

  async function publish(type: string, data: Record<string, unknown> = {}): Promise<any> {
    const published = await admin('POST', '/v1/events', { body: { type, subject: 'things/1', data } });
    expect(published.status).toBe(201);
    return published.body;
  }

  async function deliveries(endpointId: string, status?: string): Promise<any[]> {
    const filter = status ? `&status=${status}` : '';
    const listed = await admin('GET', `/v1/endpoints/${endpointId}/deliveries?limit=500${filter}`);
    expect(listed.status).toBe(200);
    return listed.body.data;
  }

  /**
   * A pending delivery written straight to the table, as the races that leave strays do, due now or
   * `dueInSeconds` from now; what is not given is made up (a new endpoint id, an event past the newest,
   * a new event id). Returns its id.
   */
  async function insertStray(given: {
    endpointId?: string;
    eventSeq?: string;
    eventId?: string;
    dueInSeconds?: number;
  }) {
    const [row]: Array<{ id: string }> = await herald.app.get(DataSource).query(
      `INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
       VALUES (coalesce($1::uuid, gen_random_uuid()),
               coalesce($2::bigint, (SELECT coalesce(max(seq), 0) + 1000000 FROM events)),
               coalesce($3::uuid, gen_random_uuid()), 'pending', now() + make_interval(secs => $4))
       RETURNING id`,
      [given.endpointId ?? null, given.eventSeq ?? null, given.eventId ?? null, given.dueInSeconds ?? 0],
    );
    return row!.id;
  }

  async function deliveryExists(id: string): Promise<boolean> {
    return (
      (await herald.app.get(DataSource).query('SELECT 1 FROM deliveries WHERE id = $1', [id])).length > 0
    );
  }

  async function settledDelivery(endpointId: string, status: 'delivered' | 'failed'): Promise<any> {
    const delivery = await eventually(async () => (await deliveries(endpointId, status))[0] ?? false);
    return (await admin('GET', `/v1/deliveries/${delivery.id}`)).body;
  }

  it('POSTs the envelope with Standard Webhooks headers that a stock verifier accepts', async () => {
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['orders.*']);
    const event = await publish('orders.created', { id: 7 });
    await publish('invoices.paid');
    await eventually(() => receiver.received.length === 1);

    const [webhook] = receiver.received;
    expect(webhook!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Herald/0.1.0',
      'webhook-id': event.id,
    });
    expect(Math.abs(Number(webhook!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    expect(JSON.parse(webhook!.body)).toEqual((await admin('GET', `/v1/events/${event.id}`)).body);
    expect(
      new Webhook(endpoint.secret).verify(webhook!.body, webhook!.headers as Record<string, string>),
    ).toEqual(JSON.parse(webhook!.body));

    const delivery = await settledDelivery(endpoint.id, 'delivered');
    expect(delivery).toMatchObject({
      endpointId: endpoint.id,
      eventId: event.id,
      eventType: 'orders.created',
      status: 'delivered',
      attemptCount: 1,
      attempts: [{ url: receiver.url, responseStatus: 204, error: null, durationMs: expect.any(Number) }],
    });
    // The invoice did not match the filter: one delivery only.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.received).toHaveLength(1);
  });

  it("sends the endpoint's own headers beside Herald's, and its changed ones from the next webhook on", async () => {
    receiver = await startWebhookReceiver();
    const created = await admin('POST', '/v1/endpoints', {
      body: {
        url: receiver.url,
        filter: { types: ['headed.*'] },
        headers: { 'X-Api-Key': 'k-123', 'X-Team': 'billing' },
      },
    });
    await publish('headed.first');
    await eventually(() => receiver.received.length === 1);
    const first = receiver.received[0]!;
    expect(first.headers).toMatchObject({
      'x-api-key': 'k-123',
      'x-team': 'billing',
      'content-type': 'application/json',
      'user-agent': 'Herald/0.1.0',
    });
    expect(() =>
      new Webhook(created.body.secret).verify(first.body, first.headers as Record<string, string>),
    ).not.toThrow();

    await admin('PATCH', `/v1/endpoints/${created.body.id}`, {
      body: { headers: { 'X-Team': null, 'X-Api-Key': 'k-456' } },
    });
    await publish('headed.second');
    await eventually(() => receiver.received.length === 2);
    expect(receiver.received[1]!.headers['x-api-key']).toBe('k-456');
    expect(receiver.received[1]!.headers['x-team']).toBeUndefined();
  });

  it('stores what an operator can act on for an answer that is not HTTP and for a port that is not TLS', async () => {
    // Answers every request with a status line no HTTP has, or, to a TLS client, with plain text.
    const server = createTcpServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 000 Zero\r\ncontent-length: 0\r\n\r\n'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const plain = await endpointFor(`http://127.0.0.1:${port}/hooks`, ['not-http.*']);
      const tls = await endpointFor(`https://127.0.0.1:${port}/hooks`, ['not-tls.*']);
      await publish('not-http.one');
      await publish('not-tls.one');
      const errors = async (endpointId: string) =>
        (await settledDelivery(endpointId, 'failed')).attempts.map((a: { error: string }) => a.error);
      for (const error of await errors(plain.id)) {
        expect(error).toBe('ERR_ASSERTION: the answer is not valid HTTP');
      }
      for (const error of await errors(tls.id)) {
        expect(error).toBe(
          "ERR_SSL_WRONG_VERSION_NUMBER: TLS handshake failed; does the URL's port speak TLS?",
        );
      }
    } finally {
      server.close();
    }
  });

  it('retries on the schedule with ±20 % jitter, stores every attempt, then fails', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 500, body: 'x'.repeat(5_000) }));
    const endpoint = await endpointFor(receiver.url, ['retry.me']);
    const event = await publish('retry.me');
    // Between attempts it is pending, due after the one it just made.
    const retrying = await eventually(async () => {
      const [waiting] = await deliveries(endpoint.id, 'pending');
      return waiting?.attemptCount > 0 && waiting;
    });
    expect(Date.parse(retrying.nextAttemptAt)).toBeGreaterThan(Date.parse(retrying.lastAttemptAt));
    const delivery = await settledDelivery(endpoint.id, 'failed');

    expect(receiver.received).toHaveLength(SCHEDULE.length);
    const ids = receiver.received.map((w) => w.headers['webhook-id']);
    expect(new Set(ids)).toEqual(new Set([event.id]));
    for (let n = 1; n < SCHEDULE.length; n++) {
      const gap = receiver.received[n]!.at - receiver.received[n - 1]!.at;
      expect(gap).toBeGreaterThanOrEqual(SCHEDULE[n]! * 800 - 5);
      expect(gap).toBeLessThanOrEqual(SCHEDULE[n]! * 1200 + LATENESS_MS);
    }
    expect(delivery.attempts).toHaveLength(SCHEDULE.length);
    for (const attempt of delivery.attempts) {
      expect(attempt).toMatchObject({ responseStatus: 500, error: null });
      expect(Buffer.byteLength(attempt.responseBody)).toBe(2_048);
    }
    const failing = await admin('GET', `/v1/events?type=herald.delivery.failing&source=${endpoint.id}`);
    expect(failing.body.data).toEqual([
      expect.objectContaining({
        provider: 'herald',
        source: `/endpoints/${endpoint.id}`,
        sourceid: endpoint.id,
        subject: `endpoints/${endpoint.id}`,
        data: expect.objectContaining({ deliveryId: delivery.id, eventId: event.id, attempts: 3 }),
      }),
    ]);
  });

  it('takes a huge answer as answered, keeps its first 2 KiB and goes on delivering', async () => {
    let calls = 0;
    receiver = await startWebhookReceiver(() =>
      ++calls === 1 ? { status: 200, body: 'é'.repeat(512 * 1024) } : { status: 204 },
    );
    const endpoint = await endpointFor(receiver.url, ['huge.answer']);
    await publish('huge.answer');
    const first = await settledDelivery(endpoint.id, 'delivered');
    expect(first.attempts).toEqual([expect.objectContaining({ responseStatus: 200, error: null })]);
    expect(first.attempts[0].responseBody).toBe('é'.repeat(1_024));

    await publish('huge.answer');
    await eventually(async () => (await deliveries(endpoint.id, 'delivered')).length === 2);
    expect(receiver.received).toHaveLength(2);
  });

  it('stores an answer with NUL bytes (Postgres text cannot hold them) with U+FFFD in their place', async () => {
    let calls = 0;
    receiver = await startWebhookReceiver(() =>
      ++calls === 1 ? { status: 500, body: 'bad\u0000body' } : { status: 204 },
    );
    const endpoint = await endpointFor(receiver.url, ['nul.answer']);
    await publish('nul.answer');
    const delivery = await settledDelivery(endpoint.id, 'delivered');
    expect(delivery.attempts).toEqual([
      expect.objectContaining({ responseStatus: 500, responseBody: 'bad\ufffdbody', error: null }),
      expect.objectContaining({ responseStatus: 204, error: null }),
    ]);
  });

  it('counts a 2xx whose body then breaks off as answered, and does not send it again', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 200, body: 'partial', cutShort: true }));
    const endpoint = await endpointFor(receiver.url, ['cut.short']);
    await publish('cut.short');
    const delivery = await settledDelivery(endpoint.id, 'delivered');
    expect(delivery.attempts).toEqual([
      expect.objectContaining({
        responseStatus: 200,
        responseBody: 'partial',
        error: expect.stringMatching(/^answered, then the body failed: /),
      }),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2 * SCHEDULE[1]! * 1000));
    expect(receiver.received).toHaveLength(1);
  });

  it('records a secret that cannot sign as a failed attempt, retries it, then fails', async () => {
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['unsignable']);
    // As stored before registration checked secrets strictly.
    await herald.app
      .get(DataSource)
      .query(`UPDATE endpoints SET secret = 'whsec_not base64!' WHERE id = $1`, [endpoint.id]);
    await publish('unsignable');
    const delivery = await settledDelivery(endpoint.id, 'failed');
    expect(delivery.attempts).toEqual(
      SCHEDULE.map(() =>
        expect.objectContaining({ responseStatus: null, error: expect.stringContaining('secret') }),
      ),
    );
    expect(receiver.received).toHaveLength(0);
  });

  it('gives up on an attempt that outlasts the timeout and retries it', async () => {
    const sender = herald.app.get(WebhookSender);
    sender.timeoutMs = 300;
    try {
      let calls = 0;
      receiver = await startWebhookReceiver(() =>
        ++calls === 1 ? { status: 200, delayMs: 2_000 } : { status: 200 },
      );
      const endpoint = await endpointFor(receiver.url, ['slow.receiver']);
      await publish('slow.receiver');
      const delivery = await settledDelivery(endpoint.id, 'delivered');
      expect(delivery.attempts).toEqual([
        expect.objectContaining({ responseStatus: null, error: 'timed out after 0.3 s' }),
        expect.objectContaining({ responseStatus: 200, error: null }),
      ]);
      expect(delivery.attempts[0].durationMs).toBeGreaterThanOrEqual(290);
      expect(delivery.attempts[0].durationMs).toBeLessThan(1_000);
    } finally {
      sender.timeoutMs = ATTEMPT_TIMEOUT_MS;
    }
  });

  it('honours Retry-After up to the longest scheduled delay and never follows redirects', async () => {
    let answers = 0;
    receiver = await startWebhookReceiver((): ReceiverAnswer => {
      answers++;
      if (answers === 1) return { status: 503, headers: { 'retry-after': '1' } };
      if (answers === 2) return { status: 302, headers: { location: 'http://127.0.0.1:9/elsewhere' } };
      return { status: 200, body: 'ok' };
    });
    const endpoint = await endpointFor(receiver.url, ['slow.down']);
    await publish('slow.down');
    const delivery = await settledDelivery(endpoint.id, 'delivered');

    const [first, second] = receiver.received.map((w) => w.at);
    // Asked for 1 s, scheduled 0.3 s: honoured up to the schedule's longest delay, 0.6 s, beyond any
    // jitter of the schedule.
    expect(second! - first!).toBeGreaterThanOrEqual(600 - 5);
    expect(second! - first!).toBeLessThanOrEqual(600 + LATENESS_MS);
    expect(delivery.attempts.map((a: any) => a.responseStatus)).toEqual([503, 302, 200]);
    // Where the redirect pointed, and that it was not followed, is on record.
    expect(delivery.attempts.map((a: any) => a.error)).toEqual([
      null,
      expect.stringContaining('redirected to http://127.0.0.1:9/elsewhere; Herald does not follow redirects'),
      null,
    ]);
    expect(delivery.attempts[2].responseBody).toBe('ok');
  });

  it('disables an endpoint that answers 410 Gone and reports it as a herald event', async () => {
    const operator = await startWebhookReceiver();
    receiver = await startWebhookReceiver(() => ({ status: 410 }));
    try {
      const watcher = await endpointFor(operator.url, ['herald.endpoint.*']);
      // A receiver's token in its URL stays out of the report, which any key that reads events sees.
      const endpoint = await endpointFor(`${receiver.url}?token=receiver-s3cret`, ['gone.*', 'herald.**']);
      await publish('gone.one');
      await eventually(
        async () => (await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.enabled === false,
      );
      const shown = (await admin('GET', `/v1/endpoints/${endpoint.id}`)).body;
      expect(shown.disabledReason).toBe('the endpoint answered 410 Gone');

      await eventually(() => operator.received.length === 1);
      const disabled = JSON.parse(operator.received[0]!.body);
      expect(disabled).toMatchObject({
        type: 'herald.endpoint.disabled',
        provider: 'herald',
        source: `/endpoints/${endpoint.id}`,
        sourceid: endpoint.id,
        data: {
          endpointId: endpoint.id,
          url: `${new URL(receiver.url).origin}/…`,
          reason: 'the endpoint answered 410 Gone',
        },
      });
      expect(operator.received[0]!.body).not.toContain('receiver-s3cret');
      expect(await deliveries(endpoint.id, 'failed')).toHaveLength(1);
      // Events about the disabled endpoint are never queued back to it.
      expect((await deliveries(endpoint.id)).map((d) => d.eventType)).toEqual(['gone.one']);
      // Disabled: new events are not queued for it.
      await publish('gone.two');
      expect(await deliveries(endpoint.id)).toHaveLength(1);
      expect((await deliveries(watcher.id)).map((d) => d.status)).toEqual(['delivered']);
    } finally {
      await operator.close();
    }
  });

  it('sends nothing more once a 410 disabled the endpoint, not even what it had already claimed', async () => {
    // The first answers come once the whole burst is queued (an event published after the disable is
    // not queued for the endpoint at all).
    receiver = await startWebhookReceiver(() => ({ status: 410, delayMs: 2_000 }));
    const endpoint = await endpointFor(receiver.url, ['gone-burst.*']);
    // More than the 128 a worker claims ahead for one endpoint, 16 sent at a time: the first answers
    // disable the endpoint.
    const burst = 160;
    await Promise.all(Array.from({ length: burst }, (_, i) => publish(`gone-burst.e${i}`)));
    await eventually(async () => (await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.enabled === false);
    // Those sent before the disable was seen get their 410 too, and nothing else is sent.
    const failed = await eventually(async () => {
      const settled = await deliveries(endpoint.id, 'failed');
      if (settled.length !== receiver.received.length) throw new Error('answers still to be recorded');
      return settled;
    }, 15_000);
    const answered = receiver.received.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Nothing more was sent: the first 16, and those that took the slots they freed before the disable
    // was seen.
    expect(receiver.received).toHaveLength(answered);
    expect(answered).toBeLessThanOrEqual(32);
    // One backlog, one fate: each answered 410 failed, and every other waits, whether it was claimed
    // ahead at the disable or not, and goes out once the endpoint is enabled again.
    expect(failed.map((d) => d.attemptCount)).toEqual(Array(answered).fill(1));
    const waiting = await deliveries(endpoint.id, 'pending');
    expect(waiting.map((d) => d.attemptCount)).toEqual(Array(burst - answered).fill(0));
    // They wait for the endpoint, not for a time that has passed.
    expect(new Set(waiting.map((d) => d.nextAttemptAt))).toEqual(new Set([null]));
    receiver.respond(() => ({ status: 204 }));
    await admin('PATCH', `/v1/endpoints/${endpoint.id}`, { body: { enabled: true } });
    await eventually(async () => (await deliveries(endpoint.id, 'delivered')).length === burst - answered);
    expect(receiver.received).toHaveLength(burst);
  });

  it('disables an endpoint that failed every attempt for five days', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 500 }));
    const endpoint = await endpointFor(receiver.url, ['always.failing']);
    await publish('always.failing');
    const failed = await settledDelivery(endpoint.id, 'failed');
    expect((await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.enabled).toBe(true);

    const clock = herald.app.get(DeliveryClock);
    const realNow = clock.now;
    clock.now = () => new Date(Date.now() + 5 * DAY_MS + 60_000);
    // The failures of the five days between: the last of them an hour before the fake now, no pause.
    await herald.app
      .get(DataSource)
      .query(
        `UPDATE endpoints SET last_failed_at = now() + interval '5 days' - interval '1 hour' WHERE id = $1`,
        [endpoint.id],
      );
    try {
      expect((await admin('POST', `/v1/deliveries/${failed.id}/retry`)).status).toBe(202);
      await eventually(
        async () => (await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.enabled === false,
      );
    } finally {
      clock.now = realNow;
    }
    expect((await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.disabledReason).toMatch(
      /^every attempt failed since /,
    );
    const disabled = await admin('GET', `/v1/events?type=herald.endpoint.disabled&source=${endpoint.id}`);
    expect(disabled.body.data).toHaveLength(1);
  });

  it('starts a failing streak over after a quiet day, and at a new url, rather than disabling on time alone', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 500 }));
    const endpoint = await endpointFor(receiver.url, ['quiet.failing']);
    await publish('quiet.failing');
    await settledDelivery(endpoint.id, 'failed');
    const streak = (await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.failingSince;
    expect(Date.parse(streak)).toBeGreaterThan(Date.now() - 60_000);

    // Six days ago that was, and nothing was attempted since.
    const db = herald.app.get(DataSource);
    await db.query(
      `UPDATE endpoints SET failing_since = failing_since - interval '6 days',
                            last_failed_at = last_failed_at - interval '6 days' WHERE id = $1`,
      [endpoint.id],
    );
    await db.query(
      `UPDATE deliveries SET last_attempt_at = last_attempt_at - interval '6 days' WHERE endpoint_id = $1`,
      [endpoint.id],
    );
    await db.query(
      `UPDATE delivery_attempts SET attempted_at = attempted_at - interval '6 days'
       WHERE delivery_id IN (SELECT id FROM deliveries WHERE endpoint_id = $1)`,
      [endpoint.id],
    );
    // Recovery of lost disablings does not take the streak's age alone for five days of failures.
    const missed = async () =>
      (
        await herald.app
          .get(EndpointRepository)
          .missedDisables(new Date(Date.now() - SUSTAINED_FAILURE_MS), SUSTAINED_FAILURE_MS)
      ).map((m) => m.id);
    expect(await missed()).not.toContain(endpoint.id);

    // More failures after the quiet spell, several at once (their outcomes share batches): a new
    // streak, not a disabling.
    await publishConcurrently(admin, 'quiet.failing', 8);
    await eventually(async () => (await deliveries(endpoint.id, 'failed')).length === 9);
    const shown = (await admin('GET', `/v1/endpoints/${endpoint.id}`)).body;
    expect(shown.enabled).toBe(true);
    expect(Date.parse(shown.failingSince)).toBeGreaterThan(Date.now() - 60_000);

    // Failures at the old address say nothing of a new one.
    const moved = await admin('PATCH', `/v1/endpoints/${endpoint.id}`, {
      body: { url: `${receiver.url}/v2` },
    });
    expect(moved.body.failingSince).toBeNull();
  });

  it('records every attempt of a burst, and a success ends the failing streak', async () => {
    const seen = new Set<string>();
    // First attempt of each event fails, the retry succeeds: outcomes of both kinds share batches.
    receiver = await startWebhookReceiver(({ headers }) => {
      const id = String(headers['webhook-id']);
      if (seen.has(id)) return { status: 204 };
      seen.add(id);
      return { status: 503 };
    });
    const endpoint = await endpointFor(receiver.url, ['burst.*']);
    const count = 300;
    const published = await Promise.all(
      Array.from({ length: count }, (_, n) => publish('burst.item', { n })),
    );

    await eventually(async () => (await deliveries(endpoint.id, 'delivered')).length === count, 20_000);
    expect(receiver.received).toHaveLength(2 * count);
    const all = await deliveries(endpoint.id);
    expect(new Set(all.map((d) => d.eventId))).toEqual(new Set(published.map((e) => e.id)));
    for (const d of all.slice(0, 20)) {
      const shown = (await admin('GET', `/v1/deliveries/${d.id}`)).body;
      expect(shown.attemptCount).toBe(2);
      expect(shown.attempts.map((a: any) => a.responseStatus)).toEqual([503, 204]);
    }

    // The streak ended with the successes: a failure five days on starts a new one, no disabling.
    receiver.respond(() => ({ status: 500 }));
    const clock = herald.app.get(DeliveryClock);
    const realNow = clock.now;
    clock.now = () => new Date(Date.now() + 5 * DAY_MS + 60_000);
    try {
      await publish('burst.late');
      await eventually(async () => (await deliveries(endpoint.id, 'failed')).length === 1);
    } finally {
      clock.now = realNow;
    }
    expect((await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.enabled).toBe(true);
  });

  it('records the rest of an outcome batch when the database refuses one outcome in it', async () => {
    const db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    // Stand-in for any row Postgres refuses. The first outcome's write waits on an advisory lock the test
    // holds, so every other outcome queues behind it and they go out as one batch, the refused one inside.
    const GATE = 4242;
    await db.query(`
      CREATE FUNCTION test_attempt_gate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.response_body = 'held' THEN
          PERFORM pg_advisory_lock(${GATE});
          PERFORM pg_advisory_unlock(${GATE});
        END IF;
        IF NEW.response_body = 'refused' THEN RAISE EXCEPTION 'this attempt cannot be stored'; END IF;
        RETURN NEW;
      END $$`);
    await db.query(
      `CREATE TRIGGER test_attempt_gate BEFORE INSERT ON delivery_attempts FOR EACH ROW EXECUTE FUNCTION test_attempt_gate()`,
    );
    await db.query('SELECT pg_advisory_lock($1)', [GATE]);
    const attemptsCounted = async () => {
      const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
      return Number(/herald_delivery_attempts_total\{outcome="delivered"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    };
    try {
      receiver = await startWebhookReceiver(({ body }) => {
        const { n } = JSON.parse(body).data;
        return { status: 200, body: n === 0 ? 'held' : n === 5 ? 'refused' : 'ok' };
      });
      const endpoint = await endpointFor(receiver.url, ['refusal.*']);
      const before = await attemptsCounted();
      const first = await publish('refusal.item', { n: 0 });
      const rest = await Promise.all(
        Array.from({ length: 10 }, (_, i) => publish('refusal.item', { n: i + 1 })),
      );
      const refused = rest[4].id;
      const recorded = [first, ...rest].map((e) => e.id).filter((id) => id !== refused);
      // Every answer is in and counted (an attempt is counted as it is queued for writing): release the gate.
      await eventually(async () => (await attemptsCounted()) === before + 11);
      await db.query('SELECT pg_advisory_unlock($1)', [GATE]);

      // Well inside the 10 s lease: none of them waits for the reaper.
      await eventually(
        async () => (await deliveries(endpoint.id, 'delivered')).length === recorded.length,
        5_000,
      );
      const delivered = await deliveries(endpoint.id, 'delivered');
      expect(new Set(delivered.map((d) => d.eventId))).toEqual(new Set(recorded));
      expect(delivered.every((d) => d.attemptCount === 1)).toBe(true);
      const sent = receiver.received.map((w) => String(w.headers['webhook-id']));
      for (const id of recorded) expect(sent.filter((s) => s === id)).toHaveLength(1);
      const [stuck] = await deliveries(endpoint.id, 'delivering');
      expect(stuck?.eventId).toBe(refused);
    } finally {
      await db.query('SELECT pg_advisory_unlock_all()');
      await db.query('DROP TRIGGER test_attempt_gate ON delivery_attempts');
      await db.query('DROP FUNCTION test_attempt_gate()');
      await db.end();
    }
  });

  type RecordArgs = Parameters<DeliveryRepository['recordAttempts']>;

  /**
   * Runs `first` instead of the first outcome write that carries a delivery of `endpointId`; writes of
   * other deliveries (retries left by earlier tests) pass through. `retried` resolves once the write of
   * that outcome has been tried again and that try is over.
   */
  function interceptOutcomeWrite(endpointId: string, first: (...args: RecordArgs) => Promise<never>) {
    const repository = herald.app.get(DeliveryRepository);
    const record = repository.recordAttempts.bind(repository);
    const db = herald.app.get(DataSource);
    const tries: Array<Promise<unknown>> = [];
    const spy = jest.spyOn(repository, 'recordAttempts').mockImplementation(async (...args) => {
      const [ours] = await db.query(
        `SELECT count(*)::int AS n FROM deliveries WHERE endpoint_id = $1 AND id = ANY($2::uuid[])`,
        [endpointId, args[1].map((outcome) => outcome.id)],
      );
      if (ours.n === 0) return record(...args);
      const write = tries.length === 0 ? first(...args) : record(...args);
      tries.push(write.catch(() => undefined));
      return write;
    });
    return {
      retried: async () => {
        await eventually(() => tries.length >= 2);
        await tries[1];
      },
      restore: () => spy.mockRestore(),
    };
  }

  it.each([
    ['after its commit (the answer was lost)', true],
    ['before its commit', false],
  ])(
    'stores an attempt once when its outcome write failed %s and is tried again',
    async (_when, committed) => {
      const repository = herald.app.get(DeliveryRepository);
      const record = repository.recordAttempts.bind(repository);
      receiver = await startWebhookReceiver();
      const endpoint = await endpointFor(receiver.url, ['lost.*']);
      // The connection drops on the way back from the statement, or before it reaches the database.
      const lost = interceptOutcomeWrite(endpoint.id, async (...args) => {
        if (committed) await record(...args);
        throw new Error('Connection terminated unexpectedly');
      });
      try {
        await publish('lost.answer');
        const { id } = await settledDelivery(endpoint.id, 'delivered');
        await lost.retried();
        const delivery = (await admin('GET', `/v1/deliveries/${id}`)).body;
        expect(delivery.attempts).toHaveLength(1);
        expect(delivery.attemptCount).toBe(1);
        expect(receiver.received).toHaveLength(1);
      } finally {
        lost.restore();
      }
    },
  );

  it('stores an attempt once when its outcome write is still running as it is tried again', async () => {
    const first = herald.app.get(DataSource).createQueryRunner();
    await first.connect();
    let firstCommitted: Promise<void> = Promise.resolve();
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['running.*']);
    // The connection breaks while the statement runs on the server, which commits it only after the
    // write has been tried again (the retry waits 100 ms).
    const lost = interceptOutcomeWrite(endpoint.id, async (instanceId, outcomes, now) => {
      await first.startTransaction();
      await first.query(OUTCOMES_STATEMENT, outcomeParameters(instanceId, outcomes, now));
      firstCommitted = new Promise((resolve) => setTimeout(resolve, 600)).then(() =>
        first.commitTransaction(),
      );
      throw new Error('Connection terminated unexpectedly');
    });
    try {
      await publish('running.answer');
      await lost.retried();
      await firstCommitted;
      const [delivery] = await deliveries(endpoint.id);
      expect(delivery).toMatchObject({ status: 'delivered', attemptCount: 1 });
      expect((await admin('GET', `/v1/deliveries/${delivery.id}`)).body.attempts).toHaveLength(1);
    } finally {
      lost.restore();
      await first.release();
    }
  });

  it('moves nothing a committed first write moved, even once this instance has claimed the delivery again', async () => {
    const repository = herald.app.get(DeliveryRepository);
    const record = repository.recordAttempts.bind(repository);
    const db = herald.app.get(DataSource);
    let claimedAgain: string[] = [];
    receiver = await startWebhookReceiver(() => ({ status: 503 }));
    const endpoint = await endpointFor(receiver.url, ['reclaimed.*']);
    // The write commits and its answer is lost; before it is tried again, the delivery (due again at
    // once after a failure) is claimed again by this very instance.
    const lost = interceptOutcomeWrite(endpoint.id, async (...args) => {
      await record(...args);
      claimedAgain = args[1].map((outcome) => outcome.id);
      await db.query(
        `UPDATE deliveries SET status = 'delivering', locked_by = $1, locked_until = now() + interval '1 hour'
         WHERE id = ANY($2::uuid[])`,
        [args[0], claimedAgain],
      );
      throw new Error('Connection terminated unexpectedly');
    });
    try {
      await publish('reclaimed.answer');
      await lost.retried();
      const [delivery] = await deliveries(endpoint.id);
      expect(delivery).toMatchObject({ status: 'delivering', attemptCount: 1 });
      expect((await admin('GET', `/v1/deliveries/${delivery.id}`)).body.attempts).toHaveLength(1);
    } finally {
      lost.restore();
      await db.query(`UPDATE deliveries SET status = 'failed', locked_by = NULL WHERE id = ANY($1::uuid[])`, [
        claimedAgain,
      ]);
    }
  });

  it('resends a settled delivery once when retried by hand, and keeps a pending one on its schedule', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 200 }));
    const endpoint = await endpointFor(receiver.url, ['resent.*']);
    await publish('resent.once');
    const delivered = await settledDelivery(endpoint.id, 'delivered');

    // The receiver has it, and now fails: one attempt, no schedule after it, no failing report.
    receiver.respond(() => ({ status: 500 }));
    expect((await admin('POST', `/v1/deliveries/${delivered.id}/retry`)).status).toBe(202);
    await eventually(
      async () => (await admin('GET', `/v1/deliveries/${delivered.id}`)).body.status === 'failed',
    );
    await new Promise((resolve) => setTimeout(resolve, 2 * SCHEDULE.at(-1)! * 1000));
    const resent = (await admin('GET', `/v1/deliveries/${delivered.id}`)).body;
    expect(resent.attempts.map((a: { responseStatus: number }) => a.responseStatus)).toEqual([200, 500]);
    expect(resent.nextAttemptAt).toBeNull();
    const reports = await admin('GET', `/v1/events?type=herald.delivery.failing&source=${endpoint.id}`);
    expect(reports.body.data).toEqual([]);

    // A delivery still on its schedule only moves its next attempt forward: the schedule goes on.
    const scheduled = await publish('resent.scheduled');
    const pending = await eventually(
      async () => (await deliveries(endpoint.id, 'pending')).find((d) => d.eventId === scheduled.id) ?? false,
    );
    // 409 when a claim took it in the meantime: the schedule goes on all the same.
    expect([202, 409]).toContain((await admin('POST', `/v1/deliveries/${pending.id}/retry`)).status);
    const settled = async () => (await admin('GET', `/v1/deliveries/${pending.id}`)).body;
    await eventually(async () => (await settled()).status === 'failed');
    expect((await settled()).attempts).toHaveLength(SCHEDULE.length);
  });

  it('retries a failed delivery on request and replays stored events', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 500 }));
    const since = new Date(Date.now() - 1_000).toISOString();
    const endpoint = await endpointFor(receiver.url, ['replay.*']);
    await publish('replay.a');
    const failed = await settledDelivery(endpoint.id, 'failed');

    // A disabled endpoint's deliveries are never claimed: a retry would wait silently.
    await admin('PATCH', `/v1/endpoints/${endpoint.id}`, { body: { enabled: false } });
    const refused = await admin('POST', `/v1/deliveries/${failed.id}/retry`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'conflict', detail: expect.stringContaining('disabled') });
    expect((await admin('GET', `/v1/deliveries/${failed.id}`)).body.status).toBe('failed');
    await admin('PATCH', `/v1/endpoints/${endpoint.id}`, { body: { enabled: true } });

    receiver.respond(() => ({ status: 200 }));
    const retried = await admin('POST', `/v1/deliveries/${failed.id}/retry`);
    expect(retried.status).toBe(202);
    const delivered = await settledDelivery(endpoint.id, 'delivered');
    expect(delivered.id).toBe(failed.id);
    expect(delivered.attempts.map((a: any) => a.responseStatus)).toEqual([500, 500, 500, 200]);

    await publish('replay.b');
    await publish('replay.c');
    await publish('other.d');
    await eventually(async () => (await deliveries(endpoint.id, 'delivered')).length === 3);
    const before = receiver.received.length;
    const replayed = await admin('POST', `/v1/endpoints/${endpoint.id}/replay`, {
      body: { since, types: ['replay.a', 'replay.c'] },
    });
    expect(replayed.status).toBe(202);
    expect(replayed.body).toEqual({ deliveries: 2 });
    await eventually(() => receiver.received.length === before + 2);
    const types = receiver.received.slice(before).map((w) => JSON.parse(w.body).type);
    expect(types.sort()).toEqual(['replay.a', 'replay.c']);
    const all = await admin('POST', `/v1/endpoints/${endpoint.id}/replay`, { body: { since } });
    expect(all.body).toEqual({ deliveries: 3 });

    const bad = await admin('POST', `/v1/endpoints/${endpoint.id}/replay`, { body: { since: 'yesterday' } });
    expect(bad.status).toBe(400);
  });

  it('replays after an event, in commit order, and only what the endpoint missed', async () => {
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['missed.*']);
    const first = await publish('missed.first');
    await eventually(async () => (await deliveries(endpoint.id, 'delivered')).length === 1);
    await admin('PATCH', `/v1/endpoints/${endpoint.id}`, { body: { enabled: false } });
    // Not queued while disabled. One says it happened long ago: a time window of the outage misses it.
    await admin('POST', '/v1/events', { body: { type: 'missed.old', time: '2020-01-01T00:00:00Z' } });
    await publish('missed.late');
    await admin('PATCH', `/v1/endpoints/${endpoint.id}`, { body: { enabled: true } });
    const since = String(BigInt(first.seq) - 1n);
    const replay = (body: object) => admin('POST', `/v1/endpoints/${endpoint.id}/replay`, { body });

    expect((await replay({ after: since, missedOnly: true })).body).toEqual({ deliveries: 2 });
    await eventually(() => receiver.received.length === 3);
    expect(receiver.received.map((w) => JSON.parse(w.body).type).sort()).toEqual([
      'missed.first',
      'missed.late',
      'missed.old',
    ]);
    // Now every one was sent or is on its way; without missedOnly all are sent again.
    expect((await replay({ after: since, missedOnly: true })).body).toEqual({ deliveries: 0 });
    expect((await replay({ after: first.id })).body).toEqual({ deliveries: 2 });
    expect((await replay({ after: since })).body).toEqual({ deliveries: 3 });
  });

  it('queues what an endpoint missed once, however many missedOnly replays ask at the same time', async () => {
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['replayed.together']);
    await admin('PATCH', `/v1/endpoints/${endpoint.id}`, { body: { enabled: false } });
    const first = await publish('replayed.together');
    await publishConcurrently(admin, 'replayed.together', 299);
    await admin('PATCH', `/v1/endpoints/${endpoint.id}`, { body: { enabled: true } });

    const after = String(BigInt(first.seq) - 1n);
    // The four arrive while deliveries cannot be written, so that all of them are under way at once.
    const db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    let replays;
    try {
      await db.query('BEGIN');
      await db.query('LOCK TABLE deliveries IN SHARE MODE');
      const asked = Promise.all(
        Array.from({ length: 4 }, () =>
          admin('POST', `/v1/endpoints/${endpoint.id}/replay`, { body: { after, missedOnly: true } }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      await db.query('COMMIT');
      replays = await asked;
    } finally {
      await db.end();
    }
    expect(replays.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    expect(replays.map((r) => r.body.deliveries).sort((a, b) => b - a)).toEqual([300, 0, 0, 0]);
    await eventually(async () => (await deliveries(endpoint.id, 'delivered')).length === 300);
    expect(receiver.received).toHaveLength(300);
  });

  it('lists what became of one event: its deliveries to every endpoint, replays too', async () => {
    receiver = await startWebhookReceiver();
    const one = await endpointFor(receiver.url, ['traced.*']);
    const other = await endpointFor(`${receiver.url}/other`, ['traced.event']);
    const event = await publish('traced.event');
    await eventually(async () => (await deliveries(other.id, 'delivered')).length === 1);
    await admin('POST', `/v1/endpoints/${one.id}/replay`, {
      body: { after: String(BigInt(event.seq) - 1n) },
    });

    const listed = await admin('GET', `/v1/deliveries?eventId=${event.id}`);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((d: { endpointId: string }) => d.endpointId).sort()).toEqual(
      [one.id, one.id, other.id].sort(),
    );
    expect(new Set(listed.body.data.map((d: { eventId: string }) => d.eventId))).toEqual(new Set([event.id]));
    // Paged like every list, newest first.
    const first = await admin('GET', `/v1/deliveries?eventId=${event.id}&limit=2`);
    const rest = await admin(
      'GET',
      `/v1/deliveries?eventId=${event.id}&limit=2&cursor=${first.body.nextCursor}`,
    );
    expect([...first.body.data, ...rest.body.data].map((d: { id: string }) => d.id)).toEqual(
      listed.body.data.map((d: { id: string }) => d.id),
    );
    expect(rest.body.nextCursor).toBeNull();

    const unknown = await admin('GET', '/v1/deliveries?eventId=00000000-0000-7000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect((await admin('GET', '/v1/deliveries?eventId=nope')).status).toBe(400);
    expect((await admin('GET', '/v1/deliveries')).status).toBe(400);
  });

  it('sends a replay oldest first', async () => {
    receiver = await startWebhookReceiver();
    const since = new Date(Date.now() - 1_000).toISOString();
    const published: string[] = [];
    for (let i = 0; i < 8; i++) published.push((await publish('replayed.in-order')).id);
    const endpoint = await endpointFor(receiver.url, ['replayed.in-order']);
    // Arrival order at the receiver depends on which of its new connections opens first; the order the
    // worker sends them in does not.
    const sent: string[] = [];
    const sender = herald.app.get(WebhookSender);
    const send = sender.send.bind(sender);
    jest.spyOn(sender, 'send').mockImplementation((message) => {
      sent.push(message.id);
      return send(message);
    });
    try {
      const replayed = await admin('POST', `/v1/endpoints/${endpoint.id}/replay`, { body: { since } });
      expect(replayed.body).toEqual({ deliveries: published.length });
      await eventually(() => sent.length === published.length);
      expect(sent).toEqual(published);
      // Its deliveries, all made in one statement, list newest first too: the reverse of their sending.
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await admin(
          'GET',
          `/v1/endpoints/${endpoint.id}/deliveries?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        );
        listed.push(...page.body.data.map((d: { eventId: string }) => d.eventId));
        cursor = page.body.nextCursor ?? undefined;
      } while (cursor);
      expect(listed).toEqual([...published].reverse());
    } finally {
      jest.restoreAllMocks();
    }
  });

  /**
   * An endpoint at `url` (a receiver slower than the test) with 2 × PER_ENDPOINT_CONCURRENCY deliveries
   * claimed by the worker: PER_ENDPOINT_CONCURRENCY sending, the rest waiting for a slot.
   */
  async function claimedBacklog(url: string, type: string) {
    const endpoint = await endpointFor(url, [type]);
    const backlog = 2 * PER_ENDPOINT_CONCURRENCY;
    await publishConcurrently(admin, type, backlog);
    await eventually(async () => (await deliveries(endpoint.id, 'delivering')).length === backlog);
    return { endpoint, backlog };
  }

  it('sends what waits for a slot to where the endpoint points now once its url changes', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 1_000 }));
    const moved = await startWebhookReceiver();
    try {
      const { endpoint, backlog } = await claimedBacklog(receiver.url, 'moving.on');

      // An id in upper case names the same endpoint, and its workers hear of the change all the same.
      const patched = await admin('PATCH', `/v1/endpoints/${endpoint.id.toUpperCase()}`, {
        body: { url: moved.url },
      });
      expect(patched.status).toBe(200);

      await eventually(async () => (await deliveries(endpoint.id, 'delivered')).length === backlog);
      expect(receiver.received).toHaveLength(PER_ENDPOINT_CONCURRENCY);
      expect(moved.received).toHaveLength(backlog - PER_ENDPOINT_CONCURRENCY);
      // Each attempt says where it went.
      const delivered = await deliveries(endpoint.id, 'delivered');
      const sentTo = await Promise.all(
        delivered.map(async ({ id }) => (await admin('GET', `/v1/deliveries/${id}`)).body.attempts[0].url),
      );
      expect(sentTo.filter((url) => url === receiver.url)).toHaveLength(PER_ENDPOINT_CONCURRENCY);
      expect(sentTo.filter((url) => url === moved.url)).toHaveLength(backlog - PER_ENDPOINT_CONCURRENCY);
    } finally {
      await moved.close();
    }
  });

  it('sends what a claim in flight took to where the endpoint points now when its url changed meanwhile', async () => {
    receiver = await startWebhookReceiver();
    const moved = await startWebhookReceiver();
    try {
      const endpoint = await endpointFor(receiver.url, ['moving.mid-claim']);
      const listener = herald.app.get(PgListener);
      let heard!: () => void;
      const changeHeard = new Promise<void>((resolve) => (heard = resolve));
      // Registered after the worker's own handler, so by the time this runs, the worker has heard too.
      listener.on(Channel.deliveries, (endpointId) => endpointId === endpoint.id && heard());
      // The claim that leased the delivery (with the endpoint as it was) answers only once the change
      // has been committed and announced.
      let changed = false;
      await hookClaims(herald.app, async (claim) => {
        if (!changed && claim.deliveries.some((d) => d.endpointId === endpoint.id)) {
          changed = true;
          const patched = await admin('PATCH', `/v1/endpoints/${endpoint.id}`, { body: { url: moved.url } });
          expect(patched.status).toBe(200);
          await changeHeard;
        }
      });
      await publish('moving.mid-claim');

      await eventually(async () => (await deliveries(endpoint.id, 'delivered')).length === 1);
      expect(moved.received).toHaveLength(1);
      expect(receiver.received).toHaveLength(0);
    } finally {
      jest.restoreAllMocks();
      await moved.close();
    }
  });

  it('does not send what waits for a slot once the endpoint is deleted', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 1_000 }));
    const { endpoint } = await claimedBacklog(receiver.url, 'going.away');

    expect((await admin('DELETE', `/v1/endpoints/${endpoint.id}`)).status).toBe(204);

    // The attempts already sending are answered after 1 s; a slot they free would take the next one.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(receiver.received).toHaveLength(PER_ENDPOINT_CONCURRENCY);
    // Their outcomes find no delivery left to move: said once for the endpoint, not once each.
    const unmoved = logs.lines.filter(
      (line) => line.endpointId === endpoint.id && String(line.msg).startsWith('delivery not moved'),
    );
    expect(unmoved).toHaveLength(1);
  });

  it('deletes an endpoint with its deliveries and their attempts', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 500 }));
    const endpoint = await endpointFor(receiver.url, ['removed.*']);
    await publish('removed.a');
    const failed = await settledDelivery(endpoint.id, 'failed');
    expect(failed.attempts).toHaveLength(SCHEDULE.length);

    expect((await admin('DELETE', `/v1/endpoints/${endpoint.id}`)).status).toBe(204);
    const [left] = await herald.app.get(DataSource).query(
      `SELECT (SELECT count(*) FROM deliveries WHERE endpoint_id = $1)::int AS deliveries,
              (SELECT count(*) FROM delivery_attempts WHERE delivery_id = $2)::int AS attempts`,
      [endpoint.id, failed.id],
    );
    expect(left).toEqual({ deliveries: 0, attempts: 0 });
    expect((await admin('GET', `/v1/deliveries/${failed.id}`)).status).toBe(404);
  });

  it('drops a claimed delivery whose event is gone and goes on delivering', async () => {
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['stray.*']);
    // What a replay racing retention leaves: a due delivery of an event that no longer exists.
    const stray = await insertStray({ endpointId: endpoint.id });
    const event = await publish('stray.real');
    await eventually(() => receiver.received.length === 1);
    expect(receiver.received[0]!.headers['webhook-id']).toBe(event.id);
    await eventually(async () => !(await deliveryExists(stray)));
    expect((await settledDelivery(endpoint.id, 'delivered')).eventId).toBe(event.id);
    expect(receiver.received).toHaveLength(1);
  });

  it("delivers another endpoint's event at once while a slow endpoint works through a large backlog", async () => {
    const slow = await startWebhookReceiver(() => ({ status: 204, delayMs: 300 }));
    receiver = await startWebhookReceiver();
    try {
      const backlogged = await endpointFor(slow.url, ['fair.backlog']);
      const quiet = await endpointFor(receiver.url, ['fair.quiet']);
      const event = await publish('fair.backlog');
      // 3,000 due deliveries to the slow endpoint (16 requests of 300 ms at a time: ~50/s), all older
      // than the quiet endpoint's one.
      await herald.app.get(DataSource).query(
        `INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
         SELECT $1, $2, $3, 'pending', now() - interval '1 minute' FROM generate_series(1, 3000)`,
        [backlogged.id, event.seq, event.id],
      );
      await eventually(() => slow.received.length > 0);
      const published = Date.now();
      await publish('fair.quiet');
      await eventually(() => receiver.received.length === 1);
      expect(Date.now() - published).toBeLessThan(2_000);
      expect((await deliveries(quiet.id, 'delivered')).length).toBe(1);
      await admin('DELETE', `/v1/endpoints/${backlogged.id}`);
    } finally {
      await slow.close();
    }
  });

  it('sweeps pending deliveries of an endpoint deleted while they were queued', async () => {
    const event = await publish('swept.a');
    // What a fan-out racing the endpoint's deletion leaves: a due delivery to no endpoint.
    const stray = await insertStray({ eventSeq: event.seq, eventId: event.id });
    const worker = herald.app.get(DeliveryWorker);
    expect(await worker.sweepStrays()).toBe(1);
    expect(await deliveryExists(stray)).toBe(false);
    expect(await worker.sweepStrays()).toBe(0);
  });

  it('signs with every secret still in its 24 h overlap, newest first, across repeated rotations', async () => {
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['rotate.*']);
    const rotated = await admin('POST', `/v1/endpoints/${endpoint.id}/rotate-secret`);
    await publish('rotate.now');
    await eventually(() => receiver.received.length === 1);
    // A second rotation within the overlap: the first secret still has its 24 h.
    const again = await admin('POST', `/v1/endpoints/${endpoint.id}/rotate-secret`);
    await publish('rotate.again');
    await eventually(() => receiver.received.length === 2);

    const [once, twice] = receiver.received.map(({ body, headers }) => ({
      body,
      headers: headers as Record<string, string>,
      signatures: String(headers['webhook-signature']).split(' '),
    }));
    expect(once!.signatures).toHaveLength(2);
    expect(twice!.signatures).toHaveLength(3);
    for (const secret of [endpoint.secret, rotated.body.secret, again.body.secret]) {
      expect(() => new Webhook(secret).verify(twice!.body, twice!.headers)).not.toThrow();
    }
    expect(() => new Webhook(endpoint.secret).verify(once!.body, once!.headers)).not.toThrow();
    const onlyNewest = { ...twice!.headers, 'webhook-signature': twice!.signatures[0]! };
    expect(() => new Webhook(again.body.secret).verify(twice!.body, onlyNewest)).not.toThrow();
  });

  it('stops the secrets before a rotation at once, or after the overlap asked for', async () => {
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['leaked.*']);
    const rotate = (body: object) => admin('POST', `/v1/endpoints/${endpoint.id}/rotate-secret`, { body });
    const shortly = await rotate({ previousValidForSeconds: 60 });
    const expiry = Date.parse(shortly.body.previousSecretExpiresAt);
    expect(Math.abs(expiry - (Date.now() + 60_000))).toBeLessThan(5_000);
    // A leak: neither the secret just replaced nor the one still in its minute signs any more.
    const leaked = await rotate({ previousValidForSeconds: 0 });
    expect(leaked.body.previousSecretExpiresAt).toBeNull();
    await publish('leaked.after');
    await eventually(() => receiver.received.length === 1);
    const { body, headers } = receiver.received[0]!;
    expect(String(headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() =>
      new Webhook(leaked.body.secret).verify(body, headers as Record<string, string>),
    ).not.toThrow();
    expect((await rotate({ previousValidForSeconds: 86_401 })).status).toBe(400);
  });

  it('keeps every replaced secret signing when rotations run concurrently', async () => {
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['concurrent-rotate.*']);
    const rotations = await Promise.all(
      Array.from({ length: 4 }, () => admin('POST', `/v1/endpoints/${endpoint.id}/rotate-secret`)),
    );
    expect(rotations.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(new Set(rotations.map((r) => r.body.secret)).size).toBe(4); // each call answers its own
    await publish('concurrent-rotate.now');
    await eventually(() => receiver.received.length === 1);
    const { body, headers } = receiver.received[0]!;
    // The current secret and the four it replaced, whichever order the rotations ran in.
    expect(String(headers['webhook-signature']).split(' ')).toHaveLength(5);
    for (const secret of [endpoint.secret, ...rotations.map((r) => r.body.secret as string)]) {
      expect(() => new Webhook(secret).verify(body, headers as Record<string, string>)).not.toThrow();
    }
  });

  it('waits for a delivery due later by the database clock, even when its own clock runs ahead', async () => {
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['clock.never-published']);
    const event = await publish('clock.other');
    const due = await insertStray({
      endpointId: endpoint.id,
      eventSeq: event.seq,
      eventId: event.id,
      dueInSeconds: 4,
    });
    const claims = jest.spyOn(herald.app.get(DeliveryRepository), 'claim');
    // The gateway's clock 10 s ahead of Postgres's: a wait computed against it is negative.
    const realNow = Date.now;
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 10_000);
    let claimsMade: number;
    try {
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    } finally {
      // Counted before restoring: a restored spy forgets its calls.
      claimsMade = claims.mock.calls.length;
      jest.restoreAllMocks();
    }
    // One poll (every 2 s) and its wake-up for the due time, and on a loaded machine a claim or two
    // woken by the setup; not a claim after every claim, which made 1,898 in 3 s.
    expect(claimsMade).toBeLessThanOrEqual(10);
    const delivered = await settledDelivery(endpoint.id, 'delivered');
    expect(delivered.id).toBe(due);
  });

  it('lists deliveries by status with a cursor', async () => {
    receiver = await startWebhookReceiver();
    const endpoint = await endpointFor(receiver.url, ['listed.*']);
    for (let i = 0; i < 3; i++) await publish('listed.one');
    await eventually(async () => (await deliveries(endpoint.id, 'delivered')).length === 3);
    const first = await admin('GET', `/v1/endpoints/${endpoint.id}/deliveries?limit=2&status=delivered`);
    expect(first.body.data).toHaveLength(2);
    const second = await admin(
      'GET',
      `/v1/endpoints/${endpoint.id}/deliveries?limit=2&status=delivered&cursor=${first.body.nextCursor}`,
    );
    expect(second.body).toEqual({
      data: [expect.objectContaining({ status: 'delivered' })],
      nextCursor: null,
    });
    expect((await admin('GET', `/v1/endpoints/${endpoint.id}/deliveries?status=lost`)).status).toBe(400);
    // The cursor is for this endpoint's delivered ones: not for all of them, nor for another endpoint's.
    const other = await endpointFor(receiver.url, ['listed.other']);
    for (const path of [
      `/v1/endpoints/${endpoint.id}/deliveries?limit=2&cursor=${first.body.nextCursor}`,
      `/v1/endpoints/${other.id}/deliveries?limit=2&status=delivered&cursor=${first.body.nextCursor}`,
    ]) {
      const refused = await admin('GET', path);
      expect({ status: refused.status, code: refused.body.code }).toEqual({
        status: 400,
        code: 'invalid_cursor',
      });
    }
  });

  it('exports delivery metrics', async () => {
    const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/herald_delivery_attempts_total\{outcome="delivered"\} \d+/);
    expect(metrics).toContain('herald_delivery_attempt_seconds_bucket');
    expect(metrics).toContain('herald_deliveries_pending');
  });
});
