import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { RetentionService } from '../src/retention/retention.service.js';
import { PURGE_BATCH_SIZE } from '../src/retention/retention.sql.js';
import { apiClient, eventually } from './support/http.js';
import { connectSocket, subscribe } from './support/sockets.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const DAY_MS = 86_400_000;

describe('retention', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    herald = await startTestApp({ HERALD_RETENTION_DAYS: '30' });
    admin = apiClient(herald.baseUrl, herald.adminToken);
  });
  afterAll(() => herald.close());

  it('removes events (and their deliveries) once they are older than HERALD_RETENTION_DAYS, and expires cursors behind them', async () => {
    const endpoint = await admin('POST', '/v1/endpoints', {
      body: { url: 'http://127.0.0.1:9/never', filter: { types: ['old.*'] }, enabled: true },
    });
    expect(endpoint.status).toBe(201);
    const publish = async (type: string) => (await admin('POST', '/v1/events', { body: { type } })).body;
    const old = [await publish('old.a'), await publish('old.b')];
    const oldDeliveries = (await admin('GET', `/v1/endpoints/${endpoint.body.id}/deliveries`)).body.data;
    expect(oldDeliveries).toHaveLength(2);
    const db = herald.app.get(DataSource);
    // Attempts too (the endpoint refuses connections), and a stray delivery to an endpoint that is gone,
    // as a fan-out racing the endpoint's deletion leaves: retention removes them with their event.
    await eventually(
      async () =>
        (
          await db.query(
            'SELECT count(DISTINCT delivery_id)::int AS n FROM delivery_attempts WHERE delivery_id = ANY($1)',
            [oldDeliveries.map((d: { id: string }) => d.id)],
          )
        )[0].n === 2,
    );
    await db.query(
      `INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
       VALUES (gen_random_uuid(), $1, $2, 'pending', now())`,
      [old[0].seq, old[0].id],
    );
    const left = async () =>
      (
        await db.query(
          `SELECT (SELECT count(*) FROM deliveries WHERE event_seq = ANY($1))::int AS deliveries,
                  (SELECT count(*) FROM delivery_attempts WHERE delivery_id = ANY($2))::int AS attempts`,
          [old.map((e) => e.seq), oldDeliveries.map((d: { id: string }) => d.id)],
        )
      )[0];
    expect((await left()).deliveries).toBe(3);
    const retention = herald.app.get(RetentionService);
    // A page cursor handed out before the purge, pointing behind what it removes.
    const page = await admin('GET', `/v1/events?after=${BigInt(old[0].seq) - 1n}&limit=1`);
    expect(page.body.data.map((e: { id: string }) => e.id)).toEqual([old[0].id]);
    const staleCursor: string = page.body.nextCursor;

    // Fake clock: 29 days on, nothing is old enough; 31 days on, both are.
    expect(await retention.purge(Date.now() + 29 * DAY_MS)).toBe(0);
    const recent = await publish('new.a');
    expect(await retention.purge(Date.now() + 31 * DAY_MS)).toBeGreaterThanOrEqual(3);

    for (const event of old) expect((await admin('GET', `/v1/events/${event.id}`)).status).toBe(404);
    expect((await admin('GET', `/v1/deliveries/${oldDeliveries[0].id}`)).status).toBe(404);
    expect(await left()).toEqual({ deliveries: 0, attempts: 0 });
    const newer = await publish('new.b');

    // Positions behind what retention removed are expired, over REST and over the socket.
    const expiredBySeq = await admin('GET', `/v1/events?after=${old[0].seq}`);
    expect(expiredBySeq.status).toBe(410);
    expect(expiredBySeq.body.code).toBe('cursor_expired');
    expect((await admin('GET', `/v1/events?after=${old[1].id}`)).status).toBe(400);
    const expiredByCursor = await admin('GET', `/v1/events?cursor=${encodeURIComponent(staleCursor)}`);
    expect(expiredByCursor.status).toBe(410);
    expect(expiredByCursor.body.code).toBe('cursor_expired');
    const socket = await connectSocket(herald.baseUrl, herald.adminToken);
    try {
      expect(await subscribe(socket, { after: old[0].seq })).toMatchObject({
        ok: false,
        error: { code: 'cursor_expired' },
      });
      expect(await subscribe(socket, { after: '0' })).toMatchObject({ ok: true });
    } finally {
      socket.close();
    }
    // "From the beginning" still works and starts at the oldest event kept.
    const fromStart = await admin('GET', '/v1/events?after=0');
    expect(fromStart.body.data.map((e: { id: string }) => e.id)).toEqual([newer.id]);
    expect(recent.seq < newer.seq).toBe(true);
  });

  describe('when retention removes events a reader has not reached', () => {
    let slow: TestApp;
    let api: ReturnType<typeof apiClient>;
    const publish = async (type: string, data: object = {}) =>
      (await api('POST', '/v1/events', { body: { type, data } })).body as { id: string; seq: string };
    const expireByReceiveTime = async (ids: string[]) => {
      await slow.app
        .get(DataSource)
        .query(`UPDATE events SET received_at = now() - interval '40 days' WHERE id = ANY($1)`, [ids]);
      expect(await slow.app.get(RetentionService).purge()).toBe(ids.length);
    };

    beforeAll(async () => {
      slow = await startTestApp({ HERALD_RETENTION_DAYS: '30', HERALD_SOCKET_MAX_BUFFER: '10' });
      api = apiClient(slow.baseUrl, slow.adminToken);
    });
    afterAll(() => slow.close());

    it('expires the id of a kept event that a removed later one passed (removal goes by receive time)', async () => {
      const kept = await publish('edge.kept');
      const removed = await publish('edge.removed');
      await expireByReceiveTime([removed.id]);
      expect((await api('GET', `/v1/events/${kept.id}`)).status).toBe(200);

      const listed = await api('GET', `/v1/events?after=${kept.id}`);
      expect(listed.status).toBe(410);
      expect(listed.body.code).toBe('cursor_expired');
      const socket = await connectSocket(slow.baseUrl, slow.adminToken);
      try {
        expect(await subscribe(socket, { after: kept.id })).toMatchObject({
          ok: false,
          error: { code: 'cursor_expired' },
        });
      } finally {
        socket.close();
      }
    });

    it('closes a replay that retention overtook, rather than going on without what it removed', async () => {
      const start = await publish('overtaken.start');
      const blob = 'x'.repeat(50_000);
      const published: Array<{ id: string; seq: string }> = [];
      for (let round = 0; round < 150; round++) {
        published.push(
          ...(await Promise.all(Array.from({ length: 8 }, (_, i) => publish('overtaken.tick', { i, blob })))),
        );
      }
      published.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
      const socket = await connectSocket(slow.baseUrl, slow.adminToken);
      try {
        const received: string[] = [];
        socket.on('event', ({ event }) => received.push(event.id));
        const closing = new Promise<{ code: string }>((resolve) => socket.once('closing', resolve));
        const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
        // The request goes out; the client reads nothing more, so the replay waits inside its first page
        // (60 MB of events: far more than the kernel buffers of a loopback connection).
        const subscribed = subscribe(socket, { types: ['overtaken.*'], after: start.id });
        const tcp = (
          socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }
        ).ws._socket;
        tcp.pause();
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        // Removed by receive time: the newest events, which the replay's first page does not hold.
        const removed = published.slice(-200);
        await expireByReceiveTime(removed.map((event) => event.id));
        tcp.resume();

        expect(await subscribed).toMatchObject({ ok: true });
        expect(await closing).toMatchObject({ code: 'cursor_expired' });
        expect(await disconnected).toBe('io server disconnect');
        // What the first page held came through, in order; nothing after the cursor was passed over.
        expect(received.length).toBeGreaterThan(0);
        expect(received).toEqual(published.slice(0, received.length).map((event) => event.id));
        expect(received.length).toBeLessThan(published.length - removed.length);
        const resumed = await connectSocket(slow.baseUrl, slow.adminToken);
        try {
          expect(await subscribe(resumed, { types: ['overtaken.*'], after: received.at(-1) })).toMatchObject({
            ok: false,
            error: { code: 'cursor_expired' },
          });
        } finally {
          resumed.close();
        }
      } finally {
        socket.close();
      }
    }, 60_000);
  });

  it('runs soon after a start, not only ten minutes in', async () => {
    // An event already past retention when the gateway starts.
    const earlier = await startTestApp({ HERALD_RETENTION_DAYS: '30' });
    const event = (
      await apiClient(earlier.baseUrl, earlier.adminToken)('POST', '/v1/events', {
        body: { type: 'aged.on.arrival' },
      })
    ).body;
    await earlier.app
      .get(DataSource)
      .query(`UPDATE events SET received_at = now() - interval '40 days' WHERE id = $1`, [event.id]);
    await earlier.close();

    const restarted = await startTestApp({ HERALD_RETENTION_DAYS: '30' }, earlier.databaseUrl);
    try {
      const db = restarted.app.get(DataSource);
      await eventually(
        async () => (await db.query('SELECT 1 FROM events WHERE id = $1', [event.id])).length === 0,
        15_000,
        250,
      );
    } finally {
      await restarted.close();
    }
  });

  it('ends a long purge between batches when the gateway shuts down, leaving the rest to the next run', async () => {
    const stopping = await startTestApp({ HERALD_RETENTION_DAYS: '30' });
    const backlog = 12 * PURGE_BATCH_SIZE;
    await stopping.app.get(DataSource).query(
      `INSERT INTO events (seq, id, type, source_id, provider, time, received_at, data)
       SELECT g, gen_random_uuid(), 'bulk.old', gen_random_uuid(), 'custom', now(), now() - interval '40 days', '{}'
       FROM generate_series(1000001, 1000000 + $1::int) g`,
      [backlog],
    );
    const purging = stopping.app.get(RetentionService).purge();
    await stopping.close();
    expect(await purging).toBeLessThan(backlog);
    const db = new pg.Client({ connectionString: stopping.databaseUrl });
    await db.connect();
    try {
      const [{ n }] = (await db.query(`SELECT count(*)::int AS n FROM events WHERE type = 'bulk.old'`)).rows;
      expect(n).toBeGreaterThan(0);
    } finally {
      await db.end();
    }
  });
});
