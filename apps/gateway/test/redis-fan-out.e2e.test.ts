import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { HeraldEvent } from '@herald/events';
import pg from 'pg';
import { createClient } from 'redis';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';
import { apiClient, eventually } from './support/http.js';
import { describeWithRedis, type RedisServer, startRedisServer } from './support/redis-server.js';
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

const redisSignals = (baseUrl: string, signal: string) =>
  counter(baseUrl, 'herald_cluster_signals_received_total', { signal, transport: 'redis' });

const readyz = async (baseUrl: string) => {
  const response = await fetch(`${baseUrl}/readyz`);
  return { status: response.status, body: (await response.json()) as any };
};

/**
 * Contract §8 with REDIS_URL: instance A is a separate gateway process, B runs in this process, both on
 * one Postgres and one real redis-server. The checks fail if the instances fell back to NOTIFY (a LISTEN
 * here counts every notification) or left the socket.io Redis adapter unused (Redis shows its readers).
 */
describeWithRedis('fan-out across instances through Redis', () => {
  let redis: RedisServer;
  let a: GatewayProcess;
  let b: TestApp;
  let token: string;
  let listener: pg.Client;
  const notifications: string[] = [];
  const sockets: RawSubscriber[] = [];

  const admin = () => apiClient(b.baseUrl, b.adminToken);
  const open = async (key = token) => {
    const socket = await connectSocket(b.baseUrl, key);
    sockets.push(socket);
    return socket;
  };
  const publishOnA = async (type: string, count: number, concurrency = 8) => {
    const api = apiClient(a.baseUrl, token);
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        for (let i = w; i < count; i += concurrency) {
          const r = await api('POST', '/v1/events', { body: { type, data: { i } } });
          expect(r.status).toBe(201);
          ids.push(r.body.id);
        }
      }),
    );
    return ids;
  };
  const receive = async (type: string) => {
    const socket = await open();
    const events: HeraldEvent[] = [];
    socket.on('event', ({ event }) => void events.push(event));
    expect(await subscribe(socket, { types: [type] })).toMatchObject({ ok: true });
    return events;
  };
  const expectInOrderOnce = (events: HeraldEvent[], ids: string[]) => {
    expect(events.map((e) => e.id).sort()).toEqual([...ids].sort());
    for (let i = 1; i < events.length; i++)
      expect(BigInt(events[i]!.seq) > BigInt(events[i - 1]!.seq)).toBe(true);
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    b = await startTestApp({ REDIS_URL: redis.url });
    a = await startGatewayProcess({ DATABASE_URL: b.databaseUrl, REDIS_URL: redis.url, LOG_LEVEL: 'warn' });
    token = (
      await admin()('POST', '/v1/api-keys', { body: { name: 'redis', scopes: ['publish', 'subscribe'] } })
    ).body.token;
    listener = new pg.Client({ connectionString: b.databaseUrl });
    await listener.connect();
    listener.on('notification', (message) => notifications.push(message.channel));
    for (const channel of NOTIFY_CHANNELS) await listener.query(`LISTEN ${channel}`);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await listener?.end();
    a?.child.kill('SIGTERM');
    await a?.exited;
    await b?.close();
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
    for (const baseUrl of [a.baseUrl, b.baseUrl]) {
      expect(await readyz(baseUrl)).toEqual({
        status: 200,
        body: { status: 'ready', clusterBus: { transport: 'redis', connected: true } },
      });
    }
  });

  it('delivers on B, in order and exactly once, every event published on A, woken through Redis', async () => {
    const signalsBefore = await redisSignals(b.baseUrl, 'events_committed');
    const events = await receive('redis.tick');
    const ids = await publishOnA('redis.tick', 300);
    await eventually(() => expect(events).toHaveLength(ids.length), 20_000);
    expectInOrderOnce(events, ids);
    expect(await redisSignals(b.baseUrl, 'events_committed')).toBeGreaterThan(signalsBefore);

    // One at a time: a Redis wake-up arrives within milliseconds, the 1 s poll within 500 ms on average.
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      await publishOnA('redis.tick', 1, 1);
      await eventually(() => expect(events).toHaveLength(ids.length + i + 1), 5_000, 2);
      latencies.push(performance.now() - started);
    }
    latencies.sort((x, y) => x - y);
    expect(latencies[5]).toBeLessThan(300);
    expect(notifications).toEqual([]);
  });

  it('cuts off a revoked key’s socket on B when the key is deleted through A', async () => {
    const key = (await admin()('POST', '/v1/api-keys', { body: { name: 'revoked', scopes: ['subscribe'] } }))
      .body;
    const socket = await open(key.token);
    const closing = new Promise((resolve) => socket.once('closing', resolve));
    const disconnected = new Promise((resolve) => socket.once('disconnect', resolve));
    const signalsBefore = await redisSignals(b.baseUrl, 'api_key_revoked');

    expect((await apiClient(a.baseUrl, b.adminToken)('DELETE', `/v1/api-keys/${key.id}`)).status).toBe(204);
    expect(await closing).toMatchObject({ code: 'unauthorized' });
    expect(await disconnected).toBe('io server disconnect');
    // B's auth cache heard of it too, so the key cannot come straight back.
    await eventually(async () =>
      expect(await redisSignals(b.baseUrl, 'api_key_revoked')).toBe(signalsBefore + 1),
    );
    await expect(connectSocket(b.baseUrl, key.token)).rejects.toThrow('unauthorized');
    expect(notifications).toEqual([]);
  });

  it('keeps serving through the Postgres poll while Redis is down, and uses Redis again once it is back', async () => {
    const events = await receive('outage.tick');
    const before = await publishOnA('outage.tick', 20);
    await eventually(() => expect(events).toHaveLength(20));

    await redis.kill();
    await eventually(async () => expect((await readyz(b.baseUrl)).body.clusterBus.connected).toBe(false));
    // Ready all the same: Postgres alone serves.
    expect((await readyz(b.baseUrl)).status).toBe(200);
    const during = await publishOnA('outage.tick', 50);
    await eventually(() => expect(events).toHaveLength(70), 20_000);

    await redis.restart();
    for (const baseUrl of [a.baseUrl, b.baseUrl]) {
      await eventually(
        async () => expect((await readyz(baseUrl)).body.clusterBus.connected).toBe(true),
        20_000,
      );
    }
    const signalsBefore = await redisSignals(b.baseUrl, 'events_committed');
    const after = await publishOnA('outage.tick', 20);
    await eventually(() => expect(events).toHaveLength(90), 20_000);
    expectInOrderOnce(events, [...before, ...during, ...after]);
    // Pub/sub subscriptions came back with the connection: wake-ups go through Redis again.
    await eventually(async () =>
      expect(await redisSignals(b.baseUrl, 'events_committed')).toBeGreaterThan(signalsBefore),
    );
    expect(notifications).toEqual([]);
  });

  it('refuses to start when REDIS_URL names no reachable Redis', async () => {
    const nowhere = 'redis://127.0.0.1:1';
    await expect(
      // The helper reports an early exit once its wait is over: the 10 s deadline and a margin.
      startGatewayProcess({ DATABASE_URL: b.databaseUrl, REDIS_URL: nowhere, LOG_LEVEL: 'warn' }, 20_000),
    ).rejects.toThrow(/Redis at redis:\/\/127\.0\.0\.1:1 did not answer within 10 s/);
  });
});
