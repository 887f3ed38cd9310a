import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { HeraldEvent } from '@herald/events';
import pg from 'pg';
import { io as ioClient } from 'socket.io-client';
import { apiClient, eventually } from './support/http.js';
import { collect, connectSocket, type RawSubscriber, subscribe } from './support/sockets.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { CursorResolver } from '../src/events/cursor-resolver.js';
import { EventRepository } from '../src/events/event.repository.js';
import { DrainState } from '../src/health/drain-state.js';
import { RevokedKeySweep } from '../src/subscriptions/revoked-key-sweep.service.js';
import { CURSOR_LOOKUPS, EVENT_LOG_READS } from '../src/events/event-log-reads.js';

describe('subscriber socket (/events)', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;
  let subscriberToken: string;
  let publish: (type: string, data?: Record<string, unknown>, token?: string) => Promise<HeraldEvent>;
  const sockets: RawSubscriber[] = [];
  const open = async (token = subscriberToken, gateway = herald) => {
    const socket = await connectSocket(gateway.baseUrl, token);
    sockets.push(socket);
    return socket;
  };

  /** A subscriber socket on `gateway` subscribed to `type`, collecting what it receives. */
  const subscribed = async (gateway: TestApp, type: string) => {
    const socket = await open(subscriberToken, gateway);
    const received = collect(socket);
    const result = await subscribe(socket, { types: [type] });
    if (!result.ok) throw new Error('subscribe failed');
    return { socket, received, result };
  };

  beforeAll(async () => {
    herald = await startTestApp();
    admin = apiClient(herald.baseUrl, herald.adminToken);
    subscriberToken = (await admin('POST', '/v1/api-keys', { body: { name: 'sub', scopes: ['subscribe'] } }))
      .body.token;
    const publisherToken = (
      await admin('POST', '/v1/api-keys', { body: { name: 'pub', scopes: ['publish'] } })
    ).body.token;
    publish = async (type, data = {}, token = publisherToken) => {
      const response = await apiClient(herald.baseUrl, token)('POST', '/v1/events', { body: { type, data } });
      expect(response.status).toBe(201);
      return response.body;
    };
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await herald.close();
  });

  describe('authentication', () => {
    it.each([
      ['no token', undefined],
      ['an unknown token', 'hrld_unknown'],
    ])('refuses %s with connect_error unauthorized', async (_name, token) => {
      await expect(connectSocket(herald.baseUrl, token)).rejects.toThrow('unauthorized');
    });

    it('refuses the root namespace, which serves nothing, even with a good key', async () => {
      const root = ioClient(herald.baseUrl, {
        auth: { token: subscriberToken },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      try {
        const error = await new Promise<Error>((resolve) => root.once('connect_error', resolve));
        expect(error.message).toBe('not_found: connect to /events');
      } finally {
        root.close();
      }
    });

    it('closes a transport connection that joins no namespace within 10 s, not after socket.io’s 45', async () => {
      const engine = `${herald.baseUrl}/socket.io/?EIO=4&transport=polling`;
      const opened = Date.now();
      // The engine.io handshake alone: a session, and never a socket.io CONNECT.
      const handshake = await fetch(engine).then((response) => response.text());
      const { sid } = JSON.parse(handshake.slice(1)) as { sid: string };
      // A long poll returns at the first packet: the close ("1"), or a ping ("2") after 25 s without one.
      const packets = await fetch(`${engine}&sid=${sid}`, { signal: AbortSignal.timeout(20_000) }).then(
        (response) => response.text(),
      );
      expect(packets).toBe('1');
      expect(Date.now() - opened).toBeLessThan(15_000);
    }, 25_000);

    it('refuses a publish-only key and accepts subscribe and admin keys', async () => {
      const publisher = (await admin('POST', '/v1/api-keys', { body: { name: 'p', scopes: ['publish'] } }))
        .body.token;
      await expect(connectSocket(herald.baseUrl, publisher)).rejects.toThrow('unauthorized');
      expect((await open()).connected).toBe(true);
      expect((await open(herald.adminToken)).connected).toBe(true);
    });

    it('cuts off a socket whose key is revoked while connected', async () => {
      const key = (
        await admin('POST', '/v1/api-keys', { body: { name: 'short-lived', scopes: ['subscribe'] } })
      ).body;
      const socket = await open(key.token);
      const closing = new Promise((resolve) => socket.once('closing', resolve));
      const disconnected = new Promise((resolve) => socket.once('disconnect', resolve));
      expect((await admin('DELETE', `/v1/api-keys/${key.id}`)).status).toBe(204);
      expect(await closing).toMatchObject({ code: 'unauthorized' });
      expect(await disconnected).toBe('io server disconnect');
    });

    it('cuts off a socket whose key was deleted while its revocation signal was missed', async () => {
      const key = (
        await admin('POST', '/v1/api-keys', { body: { name: 'missed-signal', scopes: ['subscribe'] } })
      ).body;
      const socket = await open(key.token);
      const kept = await open();
      const closing = new Promise((resolve) => socket.once('closing', resolve));
      // Deleted behind the gateway's back: no NOTIFY, as when the listener was reconnecting.
      const db = new pg.Client({ connectionString: herald.databaseUrl });
      await db.connect();
      await db.query('DELETE FROM api_keys WHERE id = $1', [key.id]);
      await db.end();
      expect(await herald.app.get(RevokedKeySweep).sweep()).toEqual([key.id]);
      expect(await closing).toMatchObject({ code: 'unauthorized' });
      await eventually(() => !socket.connected);
      expect(kept.connected).toBe(true);
      await expect(connectSocket(herald.baseUrl, key.token)).rejects.toThrow('unauthorized');
    });

    it('keeps no session for a client that leaves while its key is being checked', async () => {
      const connections = async () =>
        Number(/^herald_socket_connections (\d+)$/m.exec((await admin('GET', '/metrics')).body)?.[1]);
      const before = await connections();
      const { token } = (
        await admin('POST', '/v1/api-keys', { body: { name: 'leaver', scopes: ['subscribe'] } })
      ).body;
      // The key check waits on this lock while the client connects and leaves.
      const blocker = new pg.Client({ connectionString: herald.databaseUrl });
      await blocker.connect();
      try {
        await blocker.query('BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
        const leaver = ioClient(`${herald.baseUrl}/events`, {
          auth: { token },
          transports: ['websocket'],
          reconnection: false,
        });
        // Runs after the socket's own 'open' handler, which has just written the CONNECT packet.
        await new Promise<void>((resolve) =>
          leaver.io.once('open', () => {
            leaver.io.engine.close();
            resolve();
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
      } finally {
        await blocker.query('COMMIT');
        await blocker.end();
      }
      const survivor = await open(token);
      expect(survivor.connected).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await connections()).toBe(before + 1);
    });
  });

  describe('subscribe validation answers {ok:false, error}', () => {
    it.each([
      [{ types: ['seatable..row'] }, 'invalid_filter'],
      [{ types: 'seatable.**' }, 'invalid_filter'],
      [{ sources: ['not-an-id'] }, 'invalid_filter'],
      [{ after: 'yesterday' }, 'invalid_cursor'],
      [{ after: '01a20908-12fe-72dd-bcfb-85f9c4aed6b5' }, 'invalid_cursor'],
      [{ after: '999999999999' }, 'invalid_cursor'],
      [{ after: '00000001-0000-7000-8000-000000000000' }, 'cursor_expired'],
      [{ after: -1 }, 'invalid_cursor'],
      [{ after: 1.5 }, 'invalid_cursor'],
      [{ colour: 'red' }, 'invalid_request'],
      ['not an object', 'invalid_request'],
    ])('%j → %s', async (request, code) => {
      const socket = await open();
      const result = await subscribe(socket, request);
      expect(result).toEqual({ ok: false, error: { code, message: expect.any(String) } });
      expect(socket.connected).toBe(true);
    });

    it('takes a seq given as a JSON number, as the decimal string it stands for', async () => {
      const first = await publish('numeric.after');
      const second = await publish('numeric.after');
      const socket = await open();
      const received = collect(socket);
      const result = await subscribe(socket, { types: ['numeric.after'], after: Number(first.seq) });
      if (!result.ok) throw new Error(result.error.message);
      await eventually(() => expect(received.get(result.id)?.map((e) => e.id)).toEqual([second.id]));
    });

    it('holds a connection to 100 subscriptions even when they are all asked for at once', async () => {
      const socket = await open();
      const { seq } = await publish('cap.marker');
      // `after` makes each one wait for the database before it is stored.
      const results = await Promise.all(
        Array.from({ length: 150 }, () => subscribe(socket, { types: ['cap.none'], after: seq })),
      );
      expect(results.filter((result) => result.ok)).toHaveLength(100);
      expect(results.filter((result) => !result.ok)).toEqual(
        Array.from({ length: 50 }, () => ({
          ok: false,
          error: { code: 'too_many_subscriptions', message: expect.any(String) },
        })),
      );
    });

    it('reads the log for at most a few subscriptions at once, key by key in turn, and ingest goes on', async () => {
      for (let i = 0; i < 20; i++) await publish('flood.replayed', { i });
      const otherToken = (
        await admin('POST', '/v1/api-keys', { body: { name: 'other tenant', scopes: ['subscribe'] } })
      ).body.token;
      // Replay pages and cursor lookups, each under its own limit.
      const reads = { pages: { now: 0, most: 0, done: 0 }, lookups: { now: 0, most: 0, done: 0 } };
      const counted = <T>(kind: keyof typeof reads, read: () => Promise<T>) => {
        const count = reads[kind];
        count.most = Math.max(count.most, ++count.now);
        return read().finally(() => {
          count.now--;
          count.done++;
        });
      };
      const events = herald.app.get(EventRepository);
      const cursors = herald.app.get(CursorResolver);
      const query = events.query.bind(events);
      const resolve = cursors.resolve.bind(cursors);
      jest.spyOn(events, 'query').mockImplementation((options) => counted('pages', () => query(options)));
      jest.spyOn(cursors, 'resolve').mockImplementation((after) => counted('lookups', () => resolve(after)));
      try {
        const flood = await Promise.all([open(), open(), open()]);
        const answers = Promise.all(
          flood.flatMap((socket) =>
            Array.from({ length: 100 }, () => subscribe(socket, { types: ['flood.**'], after: '0' })),
          ),
        );
        await publish('flood.during');
        // Another key's subscribe, asked behind the flood, waits for a few of its reads, not for all 300.
        const other = await open(otherToken);
        expect(await subscribe(other, { types: ['flood.**'], after: '0' })).toMatchObject({ ok: true });
        const lookupsBeforeOther = reads.lookups.done;
        expect((await answers).every((answer) => answer.ok)).toBe(true);
        expect(reads.pages.most).toBe(EVENT_LOG_READS);
        expect(reads.lookups.most).toBe(CURSOR_LOOKUPS);
        expect(lookupsBeforeOther).toBeLessThan(100);
      } finally {
        jest.restoreAllMocks();
      }
    });

    it('answers a subscribe while replay pages hold every read place', async () => {
      for (let i = 0; i < 5; i++) await publish('held.replayed', { i });
      const events = herald.app.get(EventRepository);
      const query = events.query.bind(events);
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let held = 0;
      jest.spyOn(events, 'query').mockImplementation(async (options) => {
        held++;
        await gate;
        return query(options);
      });
      try {
        const socket = await open();
        // Replays whose pages take every place and keep it.
        const replays = Array.from({ length: EVENT_LOG_READS + 2 }, () =>
          subscribe(socket, { types: ['held.**'], after: '0' }),
        );
        await eventually(() => held === EVENT_LOG_READS);
        // Its answer needs a cursor lookup, not a page: it does not wait for them.
        const answered = await subscribe(await open(), { types: ['held.**'], after: '1' });
        expect(answered).toMatchObject({ ok: true });
        expect(held).toBe(EVENT_LOG_READS);
        release();
        expect((await Promise.all(replays)).every((answer) => answer.ok)).toBe(true);
      } finally {
        release();
        jest.restoreAllMocks();
      }
    });

    it('sets up nothing for a subscribe sent without an ack, which could never be named', async () => {
      const socket = await open();
      const received = collect(socket);
      (socket as unknown as { emit(event: string, payload: unknown): void }).emit('subscribe', {
        types: ['unacked.*'],
      });
      const acked = await subscribe(socket, { types: ['unacked.*'] });
      if (!acked.ok) throw new Error('subscribe failed');
      await publish('unacked.one');
      await publish('unacked.two');
      // The socket keeps order: an unacked subscription's events would have come before the second.
      await eventually(() => received.get(acked.id)?.length === 2);
      expect([...received.keys()]).toEqual([acked.id]);
    });

    it('answers unsubscribe of an unknown id', async () => {
      const socket = await open();
      expect(await socket.timeout(5_000).emitWithAck('unsubscribe', { id: 'nope' })).toMatchObject({
        ok: false,
        error: { code: 'unknown_subscription' },
      });
    });

    it('answers an event it does not take, sent with an ack, instead of leaving the client waiting', async () => {
      const socket = (await open()) as unknown as {
        timeout(ms: number): { emitWithAck(event: string, payload: unknown): Promise<unknown> };
      };
      expect(await socket.timeout(5_000).emitWithAck('subscrib', { types: ['a.*'] })).toEqual({
        ok: false,
        error: {
          code: 'unknown_event',
          message: 'unknown event "subscrib": the server takes subscribe and unsubscribe',
        },
      });
    });
  });

  it('delivers live events that match type patterns and sources, and stops after unsubscribe', async () => {
    const socket = await open();
    const received = collect(socket);
    const otherPublisher = (
      await admin('POST', '/v1/api-keys', { body: { name: 'p2', scopes: ['publish'] } })
    ).body;
    const peers = await subscribe(socket, { types: ['live.peer.*'] });
    // A source id is a UUID: any case names the same source.
    const rest = await subscribe(socket, { types: ['live.**'], sources: [otherPublisher.id.toUpperCase()] });
    const all = await subscribe(socket, {});
    if (!peers.ok || !rest.ok || !all.ok) throw new Error('subscribe failed');

    const a = await publish('live.peer.joined');
    const b = await publish('live.room.created');
    const c = await publish('live.peer.left', {}, otherPublisher.token);
    await eventually(() => expect(received.get(all.id)?.map((e) => e.id)).toEqual([a.id, b.id, c.id]));
    expect(received.get(peers.id)?.map((e) => e.id)).toEqual([a.id, c.id]);
    expect(received.get(rest.id)?.map((e) => e.id)).toEqual([c.id]);
    expect(received.get(all.id)?.[0]).toEqual(a);

    expect(await socket.timeout(5_000).emitWithAck('unsubscribe', { id: peers.id })).toEqual({ ok: true });
    const d = await publish('live.peer.joined');
    await eventually(() => expect(received.get(all.id)?.at(-1)?.id).toBe(d.id));
    expect(received.get(peers.id)).toHaveLength(2);
  });

  it('carries small, large and non-ASCII events intact over WebSocket and long-polling alike', async () => {
    const websocket = await open();
    const polling = ioClient(`${herald.baseUrl}/events`, {
      auth: { token: subscriberToken },
      transports: ['polling'],
      reconnection: false,
      forceNew: true,
    }) as RawSubscriber;
    sockets.push(polling);
    const clients = [websocket, polling].map((socket) => ({ socket, received: collect(socket) }));
    const subscriptions = await Promise.all(
      clients.map(({ socket }) => subscribe(socket, { types: ['size.*'] })),
    );
    // One event per WebSocket length encoding (16-bit and 64-bit payload lengths), and multi-byte UTF-8,
    // whose byte length differs from its string length.
    const published = [
      await publish('size.small', { n: 1 }),
      await publish('size.large', { blob: 'x'.repeat(70_000) }),
      await publish('size.unicode', { text: 'Grüße, 日本語, 🎉'.repeat(500) }),
    ];
    for (const [i, { received }] of clients.entries()) {
      const subscription = subscriptions[i]!;
      if (!subscription.ok) throw new Error('subscribe failed');
      await eventually(() => expect(received.get(subscription.id)).toEqual(published));
    }
  });

  it('replays stored events after a cursor, then continues live without gap or duplicate under concurrent ingest', async () => {
    const key = (await admin('POST', '/v1/api-keys', { body: { name: 'bulk', scopes: ['publish'] } })).body;
    const api = apiClient(herald.baseUrl, key.token);
    const publishMany = async (count: number, label: string) => {
      const ids: string[] = [];
      await Promise.all(
        Array.from({ length: 16 }, async (_, worker) => {
          for (let i = worker; i < count; i += 16) {
            const r = await api('POST', '/v1/events', { body: { type: 'replay.tick', data: { label, i } } });
            ids.push(r.body.id);
          }
        }),
      );
      return ids;
    };
    const marker = await publish('replay.marker');
    const stored = await publishMany(5_000, 'stored');

    const socket = await open();
    const received = collect(socket);
    const during = publishMany(5_000, 'live');
    const result = await subscribe(socket, { types: ['replay.tick'], after: marker.id });
    if (!result.ok) throw new Error(result.error.message);
    const live = await during;

    const expected = new Set([...stored, ...live]);
    await eventually(
      () => expect(received.get(result.id)?.length ?? 0).toBeGreaterThanOrEqual(expected.size),
      60_000,
      100,
    );
    const events = received.get(result.id)!;
    expect(events).toHaveLength(10_000);
    expect(new Set(events.map((e) => e.id))).toEqual(expected);
    for (let i = 1; i < events.length; i++)
      expect(BigInt(events[i]!.seq) > BigInt(events[i - 1]!.seq)).toBe(true);
  });

  it('resumes after an event committed elsewhere that this instance has not read yet, without sending it again', async () => {
    const db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    try {
      // Two events as another instance commits them: in the log, but this instance's tail reads them only
      // at its next poll (up to a second later; no NOTIFY came).
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data)
         SELECT nextval('event_seq'), gen_random_uuid(), 'elsewhere.tick', gen_random_uuid(), 'herald', NULL,
                now(), now(), jsonb_build_object('n', n)
         FROM generate_series(1, 2) AS n ORDER BY n RETURNING id`,
      );
      const [seen, next] = rows.map((row) => row.id);
      const socket = await open();
      const received = collect(socket);
      const result = await subscribe(socket, { types: ['elsewhere.tick'], after: seen });
      if (!result.ok) throw new Error(result.error.message);
      await eventually(() => (received.get(result.id)?.length ?? 0) > 0, 5_000);
      // The tail's poll may still be handing the batch out; anything more would arrive with it.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(received.get(result.id)!.map((event) => event.id)).toEqual([next]);
    } finally {
      await db.end();
    }
  });

  it('keeps a subscriber that reads as fast as it is sent one batch larger than its buffer bound', async () => {
    const bounded = await startTestApp({ HERALD_SOCKET_MAX_BUFFER: '50' }, herald.databaseUrl);
    const db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    try {
      const { socket, received, result } = await subscribed(bounded, 'burst.tick');
      // One commit of 200 events, as another instance's writer makes: the tail reads them in one page
      // and sends them as one batch, four times the bound.
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data)
         SELECT nextval('event_seq'), gen_random_uuid(), 'burst.tick', gen_random_uuid(), 'herald', NULL,
                now(), now(), jsonb_build_object('n', n)
         FROM generate_series(1, 200) AS n ORDER BY n RETURNING id`,
      );
      await eventually(() =>
        expect(received.get(result.id)?.map((event) => event.id)).toEqual(rows.map((row) => row.id)),
      );
      expect(socket.connected).toBe(true);
    } finally {
      await db.end();
      await bounded.close();
    }
  });

  it('disconnects a subscriber that stops reading before its buffer passes the bound, and it resumes with after', async () => {
    const bounded = await startTestApp({ HERALD_SOCKET_MAX_BUFFER: '50' }, herald.databaseUrl);
    try {
      const { socket, received, result } = await subscribed(bounded, 'slow.tick');
      const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      // Stop reading from the TCP socket, as a stalled consumer would.
      const tcp = (
        socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }
      ).ws._socket;
      tcp.pause();
      const blob = 'x'.repeat(20_000);
      const published: string[] = [];
      const api = apiClient(bounded.baseUrl, herald.adminToken);
      for (
        let i = 0;
        i < 1_000 && !(await Promise.race([disconnected.then(() => true), Promise.resolve(false)]));
        i++
      ) {
        published.push(
          (await api('POST', '/v1/events', { body: { type: 'slow.tick', data: { i, blob } } })).body.id,
        );
      }
      // The gateway cuts the socket off while the client is still not reading.
      await eventually(async () => {
        const text = (await apiClient(bounded.baseUrl)('GET', '/metrics')).body as string;
        expect(text).toMatch(/^herald_socket_connections 0$/m);
        // Counted by why, for an alert on consumers that cannot keep up.
        expect(text).toMatch(/^herald_socket_disconnects_total\{reason="slow_consumer"\} 1$/m);
      }, 30_000);
      tcp.resume();
      expect(await disconnected).toBe('io server disconnect');

      const seen = received.get(result.id) ?? [];
      expect(seen.length).toBeLessThan(published.length);
      const resumed = await connectSocket(bounded.baseUrl, subscriberToken);
      sockets.push(resumed);
      const more = collect(resumed);
      const again = await subscribe(resumed, {
        types: ['slow.tick'],
        after: seen.at(-1)?.seq ?? result.cursor,
      });
      if (!again.ok) throw new Error('resubscribe failed');
      await eventually(
        () => expect([...seen, ...(more.get(again.id) ?? [])].map((e) => e.id)).toEqual(published),
        30_000,
      );
    } finally {
      await bounded.close();
    }
  });

  it('tells subscribers it is shutting down before it closes, and refuses new ones meanwhile', async () => {
    const closing = await startTestApp({}, herald.databaseUrl);
    const socket = await connectSocket(closing.baseUrl, herald.adminToken);
    const told = new Promise((resolve) => socket.once('closing', resolve));
    const gone = new Promise((resolve) => socket.once('disconnect', resolve));
    closing.app.get(DrainState).begin();
    await expect(connectSocket(closing.baseUrl, herald.adminToken)).rejects.toThrow('unavailable');
    await closing.close();
    expect(await told).toMatchObject({ code: 'shutting_down' });
    expect(await gone).toBe('io server disconnect');
    socket.close();
  });
});
