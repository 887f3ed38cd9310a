import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HeraldEvent } from '@herald/events';
import pg from 'pg';
import { createClient } from 'redis';
import { freePort } from '../src/database/embedded-postgres.js';
import { spawnGatewayProcess, startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';
import { apiClient, eventually, publishConcurrently } from './support/http.js';
import { describeWithRedis, type RedisServer, startRedisServer } from './support/redis-server.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';
import { connectSocket, type RawSubscriber, subscribe } from './support/sockets.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const NOTIFY_CHANNELS = ['herald_events', 'herald_api_key_revoked'];

/** Sums a counter's samples in /metrics whose labels include all of `labels`. */
async function counter(baseUrl: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

const signals = (baseUrl: string, signal: string, transport: Transport) =>
  counter(baseUrl, 'herald_cluster_signals_received_total', { signal, transport });

const readyz = async (baseUrl: string) => {
  const response = await fetch(`${baseUrl}/readyz`);
  return { status: response.status, body: (await response.json()) as any };
};

type Transport = 'postgres' | 'redis';

interface Cluster {
  a: GatewayProcess;
  b: TestApp;
  token: string;
  /** Channels of every NOTIFY this test saw on the two cluster-bus channels. */
  notifications: string[];
  open(key?: string): Promise<RawSubscriber>;
  publishOnA(type: string, count: number, concurrency?: number): Promise<string[]>;
  receive(type: string): Promise<HeraldEvent[]>;
}

const expectInOrderOnce = (events: HeraldEvent[], ids: string[]) => {
  expect(events.map((e) => e.id).sort()).toEqual([...ids].sort());
  for (let i = 1; i < events.length; i++)
    expect(BigInt(events[i]!.seq) > BigInt(events[i - 1]!.seq)).toBe(true);
};

/**
 * Contract §8, the same checks for both cluster buses: instance A is a separate gateway process, B runs
 * in this process, both on one Postgres. Each check also asserts which bus carried the signal (B's
 * per-transport counter, and a LISTEN here that sees every NOTIFY), so Redis mode fails if the
 * instances fell back to NOTIFY.
 */
function crossInstanceSuite(transport: Transport, env: () => Record<string, string>): Cluster {
  const cluster = { notifications: [] as string[] } as Cluster;
  const sockets: RawSubscriber[] = [];
  let listener: pg.Client;

  const expectNotified = (channel: string) => {
    if (transport === 'postgres') expect(cluster.notifications).toContain(channel);
    else expect(cluster.notifications).toEqual([]);
  };

  cluster.open = async (key = cluster.token) => {
    const socket = await connectSocket(cluster.b.baseUrl, key);
    sockets.push(socket);
    return socket;
  };
  cluster.publishOnA = (type, count, concurrency) =>
    publishConcurrently(apiClient(cluster.a.baseUrl, cluster.token), type, count, concurrency);
  cluster.receive = async (type) => {
    const socket = await cluster.open();
    const events: HeraldEvent[] = [];
    socket.on('event', ({ event }) => void events.push(event));
    expect(await subscribe(socket, { types: [type] })).toMatchObject({ ok: true });
    return events;
  };

  beforeAll(async () => {
    cluster.b = await startTestApp(env());
    cluster.a = await startGatewayProcess({
      ...env(),
      DATABASE_URL: cluster.b.databaseUrl,
      LOG_LEVEL: 'warn',
    });
    const admin = apiClient(cluster.b.baseUrl, cluster.b.adminToken);
    cluster.token = (
      await admin('POST', '/v1/api-keys', { body: { name: 'cluster', scopes: ['publish', 'subscribe'] } })
    ).body.token;
    listener = new pg.Client({ connectionString: cluster.b.databaseUrl });
    await listener.connect();
    listener.on('notification', (message) => cluster.notifications.push(message.channel));
    for (const channel of NOTIFY_CHANNELS) await listener.query(`LISTEN ${channel}`);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await listener?.end();
    // A gateway that died mid-suite fails whatever test came next with a bare ECONNREFUSED: say why.
    if (cluster.a && (cluster.a.child.exitCode !== null || cluster.a.child.signalCode !== null)) {
      console.error(
        `gateway A exited early (${cluster.a.child.exitCode ?? cluster.a.child.signalCode}):\n${cluster.a.output()}`,
      );
    }
    cluster.a?.child.kill('SIGTERM');
    await cluster.a?.exited;
    await cluster.b?.close();
  });

  it(`reports the ${transport} bus as connected on /readyz`, async () => {
    for (const baseUrl of [cluster.a.baseUrl, cluster.b.baseUrl]) {
      expect(await readyz(baseUrl)).toEqual({
        status: 200,
        body: { status: 'ready', clusterBus: { transport, connected: true } },
      });
    }
  });

  it('delivers on B, in order and exactly once, every event published on A, woken through the bus', async () => {
    const signalsBefore = await signals(cluster.b.baseUrl, 'events_committed', transport);
    const events = await cluster.receive('cluster.tick');
    const ids = await cluster.publishOnA('cluster.tick', 300);
    await eventually(() => expect(events).toHaveLength(ids.length), 20_000);
    expectInOrderOnce(events, ids);
    expect(await signals(cluster.b.baseUrl, 'events_committed', transport)).toBeGreaterThan(signalsBefore);

    // One at a time: a wake-up arrives within milliseconds, the 1 s poll within 500 ms on average.
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      await cluster.publishOnA('cluster.tick', 1, 1);
      await eventually(() => expect(events).toHaveLength(ids.length + i + 1), 5_000, 2);
      latencies.push(performance.now() - started);
    }
    latencies.sort((x, y) => x - y);
    expect(latencies[5]).toBeLessThan(300);
    expectNotified('herald_events');
  });

  it('does not signal an instance about its own commits, which reach its subscribers in process', async () => {
    const events = await cluster.receive('cluster.own');
    const signalsBefore = await signals(cluster.b.baseUrl, 'events_committed', transport);
    const publish = apiClient(cluster.b.baseUrl, cluster.token);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const published = await publish('POST', '/v1/events', { body: { type: 'cluster.own', data: { i } } });
      expect(published.status).toBe(201);
      ids.push(published.body.id);
    }
    await eventually(() => expect(events).toHaveLength(ids.length));
    expectInOrderOnce(events, ids);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await signals(cluster.b.baseUrl, 'events_committed', transport)).toBe(signalsBefore);
  });

  it('cuts off a revoked key’s socket on B when the key is deleted through A', async () => {
    const admin = apiClient(cluster.b.baseUrl, cluster.b.adminToken);
    const key = (await admin('POST', '/v1/api-keys', { body: { name: 'revoked', scopes: ['subscribe'] } }))
      .body;
    const socket = await cluster.open(key.token);
    const closing = new Promise((resolve) => socket.once('closing', resolve));
    const disconnected = new Promise((resolve) => socket.once('disconnect', resolve));
    const signalsBefore = await signals(cluster.b.baseUrl, 'api_key_revoked', transport);

    const revoke = apiClient(cluster.a.baseUrl, cluster.b.adminToken);
    expect((await revoke('DELETE', `/v1/api-keys/${key.id}`)).status).toBe(204);
    expect(await closing).toMatchObject({ code: 'unauthorized' });
    expect(await disconnected).toBe('io server disconnect');
    // B's auth cache heard of it too, so the key cannot come straight back.
    await eventually(async () =>
      expect(await signals(cluster.b.baseUrl, 'api_key_revoked', transport)).toBe(signalsBefore + 1),
    );
    await expect(connectSocket(cluster.b.baseUrl, key.token)).rejects.toThrow('unauthorized');
    expectNotified('herald_api_key_revoked');
  });

  return cluster;
}

describe('cluster bus: Postgres NOTIFY (no REDIS_URL)', () => {
  crossInstanceSuite('postgres', () => ({}));
});

describe('cluster bus: Postgres NOTIFY with a lone instance', () => {
  let app: TestApp;
  let watcher: pg.Client;
  let peer: pg.Client | undefined;
  let publish: ReturnType<typeof apiClient>;
  let token: string;
  const notified: string[] = [];
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Publishes one event and reports whether a NOTIFY on `channel` came with its commit. */
  const publishNotified = async (type = 'lone.tick', channel = 'herald_events'): Promise<boolean> => {
    notified.length = 0;
    const published = await publish('POST', '/v1/events', { body: { type, data: {} } });
    expect(published.status).toBe(201);
    await sleep(150);
    return notified.includes(channel);
  };

  /** Another instance's listener as the gateway sees one: a connection named like it. */
  const connectPeer = async () => {
    peer = new pg.Client({ connectionString: app.databaseUrl, application_name: 'herald-listener' });
    await peer.connect();
    return peer;
  };

  /**
   * Another listener announces itself. Returns 30 ms later: well inside the 1 s presence check, so
   * whatever the gateway does next, only the announcement can have told it.
   */
  const announcePeer = async () => {
    const joined = await connectPeer();
    await joined.query("SELECT pg_notify('herald_listener_joined', '')");
    await sleep(30);
  };

  /** Waits until the gateway has noticed (by its 1 s check) that no other listener is left. */
  const untilAlone = () => eventually(async () => expect(await publishNotified()).toBe(false), 3_000, 0);

  const peerLeaves = async () => {
    await peer?.end();
    peer = undefined;
    await untilAlone();
  };

  beforeAll(async () => {
    app = await startTestApp();
    const admin = apiClient(app.baseUrl, app.adminToken);
    const key = await admin('POST', '/v1/api-keys', {
      body: { name: 'lone', scopes: ['publish', 'subscribe'] },
    });
    token = key.body.token;
    publish = apiClient(app.baseUrl, token);
    // Not named like a listener, so it watches without counting as another instance.
    watcher = new pg.Client({ connectionString: app.databaseUrl });
    await watcher.connect();
    watcher.on('notification', (message) => notified.push(message.channel));
    await watcher.query('LISTEN herald_events');
    await watcher.query('LISTEN herald_deliveries');
  });
  afterAll(async () => {
    await peer?.end();
    await watcher?.end();
    await app?.close();
  });

  it('sends no events NOTIFY while no other instance listens', async () => {
    for (let i = 0; i < 3; i++) expect(await publishNotified()).toBe(false);
  });

  it('queues deliveries without a NOTIFY and still sends them at once (its worker is woken in process)', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const admin = apiClient(app.baseUrl, app.adminToken);
      const endpoint = await admin('POST', '/v1/endpoints', {
        body: { url: receiver.url, filter: { types: ['lone.hook'] } },
      });
      expect(endpoint.status).toBe(201);
      for (let i = 0; i < 3; i++) {
        const sent = performance.now();
        expect(await publishNotified('lone.hook', 'herald_deliveries')).toBe(false);
        await eventually(() => expect(receiver.received).toHaveLength(i + 1), 5_000, 5);
        // The worker's poll runs every 2 s; only the in-process wake-up is this quick.
        expect(receiver.received[i]!.at - sent).toBeLessThan(500);
      }
      await announcePeer();
      expect(await publishNotified('lone.hook', 'herald_deliveries')).toBe(true);
      await peerLeaves();
      expect((await admin('DELETE', `/v1/endpoints/${endpoint.body.id}`)).status).toBe(204);
    } finally {
      await receiver.close();
    }
  });

  it('notifies from the first write after another listener announces itself, and stops once it has gone', async () => {
    await announcePeer();
    expect(await publishNotified()).toBe(true);

    await peerLeaves();
    expect(await publishNotified()).toBe(false);
  });

  it('wakes an instance that joins while it writes, and that instance misses nothing', async () => {
    const posted: Array<{ id: string; at: number }> = [];
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        const published = await publish('POST', '/v1/events', { body: { type: 'lone.stream', data: {} } });
        expect(published.status).toBe(201);
        posted.push({ id: published.body.id, at: performance.now() });
        await sleep(10);
      }
    })();
    const joined = await startGatewayProcess({ DATABASE_URL: app.databaseUrl, LOG_LEVEL: 'warn' });
    const socket = await connectSocket(joined.baseUrl, token);
    try {
      const received: HeraldEvent[] = [];
      const arrivals = new Map<string, number>();
      socket.on('event', ({ event }) => {
        received.push(event);
        arrivals.set(event.id, performance.now());
      });
      expect(await subscribe(socket, { types: ['lone.stream'], after: '0' })).toMatchObject({ ok: true });
      const liveFrom = posted.length + 5;
      await sleep(1_500);
      streaming = false;
      await stream;
      await eventually(() => expect(received).toHaveLength(posted.length), 5_000);
      expectInOrderOnce(
        received,
        posted.map((p) => p.id),
      );
      // Woken by the writer's NOTIFY within milliseconds; the 1 s poll alone would make this ~500 ms.
      const lags = posted
        .slice(liveFrom)
        .map(({ id, at }) => arrivals.get(id)! - at)
        .sort((x, y) => x - y);
      expect(lags.length).toBeGreaterThan(20);
      expect(lags[Math.floor(lags.length / 2)]).toBeLessThan(100);
    } finally {
      streaming = false;
      await stream.catch(() => undefined);
      socket.close();
      joined.child.kill('SIGTERM');
      await joined.exited;
    }
    await untilAlone();
  });

  it('notifies once the presence check finds a listener that never announced itself', async () => {
    await connectPeer();
    await eventually(async () => expect(await publishNotified()).toBe(true), 3_000, 0);
  });
});

describeWithRedis('cluster bus: Redis (REDIS_URL)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  const cluster = crossInstanceSuite('redis', () => ({ REDIS_URL: redis.url }));
  // After the suite's own afterAll, so the instances shut down with Redis still there.
  afterAll(async () => {
    await redis?.stop();
  });

  it('runs the /events namespace on the Redis Streams adapter on both instances', async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      // Each instance's adapter subscribes to the namespace's channel.
      const counts = await client.pubSubNumSub('socket.io#/events#');
      expect(counts['socket.io#/events#']).toBe(2);
    } finally {
      client.destroy();
    }
  });

  it('keeps serving through the Postgres poll while Redis is down, and uses Redis again once it is back', async () => {
    const { a, b } = cluster;
    const events = await cluster.receive('outage.tick');
    const before = await cluster.publishOnA('outage.tick', 20);
    await eventually(() => expect(events).toHaveLength(20));

    await redis.kill();
    await eventually(async () => expect((await readyz(b.baseUrl)).body.clusterBus.connected).toBe(false));
    // Ready all the same: Postgres alone serves.
    expect((await readyz(b.baseUrl)).status).toBe(200);
    const during = await cluster.publishOnA('outage.tick', 50);
    await eventually(() => expect(events).toHaveLength(70), 20_000);

    await redis.restart();
    for (const baseUrl of [a.baseUrl, b.baseUrl]) {
      await eventually(
        async () => expect((await readyz(baseUrl)).body.clusterBus.connected).toBe(true),
        20_000,
      );
    }
    const signalsBefore = await signals(b.baseUrl, 'events_committed', 'redis');
    const after = await cluster.publishOnA('outage.tick', 20);
    await eventually(() => expect(events).toHaveLength(90), 20_000);
    expectInOrderOnce(events, [...before, ...during, ...after]);
    // Pub/sub subscriptions came back with the connection: wake-ups go through Redis again.
    await eventually(async () =>
      expect(await signals(b.baseUrl, 'events_committed', 'redis')).toBeGreaterThan(signalsBefore),
    );
    expect(cluster.notifications).toEqual([]);
  });

  it('refuses to start when REDIS_URL names no reachable Redis', async () => {
    const nowhere = 'redis://127.0.0.1:1';
    await expect(
      // The helper reports an early exit once its wait is over: the 10 s deadline and a margin.
      startGatewayProcess(
        { DATABASE_URL: cluster.b.databaseUrl, REDIS_URL: nowhere, LOG_LEVEL: 'warn' },
        20_000,
      ),
    ).rejects.toThrow(/Redis at redis:\/\/127\.0\.0\.1:1 did not answer within 10 s: .*ECONNREFUSED/);
  });

  it('refuses to start at once, saying why, when Redis refuses the credentials', async () => {
    const refused = redis.url.replace('redis://', 'redis://ops:wrong-password@');
    const gateway = spawnGatewayProcess(
      { DATABASE_URL: cluster.b.databaseUrl, REDIS_URL: refused, LOG_LEVEL: 'warn' },
      await freePort(),
    );
    expect(await gateway.exited).toBe(1);
    // Said at once, not after the 10 s start-up deadline ("did not answer within 10 s").
    expect(gateway.output()).toMatch(
      /Redis at redis:\/\/ops:\*\*\*@[^ ]+ refused the credentials: WRONGPASS/,
    );
    expect(gateway.output()).not.toContain('wrong-password');
  });
});
