import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, HeraldClientError, type HeraldClient, type HeraldEvent } from '@herald/client';
import { freePort } from '../src/database/embedded-postgres.js';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';
import { apiClient, eventually, publishConcurrently } from './support/http.js';
import { startPathPrefixProxy } from './support/path-prefix-proxy.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/** @herald/client against real gateways: a separate writer process, restarts, errors. */
describe('@herald/client', () => {
  let writer: GatewayProcess;
  let reader: TestApp;
  let token: string;
  const clients: HeraldClient[] = [];
  const client = (url: string, key = token) => {
    const c = connect({ url, token: key, reconnectionDelayMaxMs: 500 });
    clients.push(c);
    return c;
  };
  const publishOn = (baseUrl: string) => (type: string, count: number, concurrency?: number) =>
    publishConcurrently(apiClient(baseUrl, token), type, count, concurrency);

  beforeAll(async () => {
    reader = await startTestApp();
    writer = await startGatewayProcess({ DATABASE_URL: reader.databaseUrl, LOG_LEVEL: 'warn' });
    const admin = apiClient(reader.baseUrl, reader.adminToken);
    token = (await admin('POST', '/v1/api-keys', { body: { name: 'sdk', scopes: ['subscribe', 'publish'] } }))
      .body.token;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    writer.child.kill('SIGTERM');
    await writer.exited;
    await reader.close();
  });

  const expectOrderedOnce = (events: HeraldEvent[], ids: string[]) => {
    expect(events.map((e) => e.id).sort()).toEqual([...ids].sort());
    for (let i = 1; i < events.length; i++)
      expect(BigInt(events[i]!.seq) > BigInt(events[i - 1]!.seq)).toBe(true);
  };

  it('sees on instance B every event ingested by the separate process A, in seq order', async () => {
    const received: HeraldEvent[] = [];
    const unsubscribe = client(reader.baseUrl).subscribe(
      { types: ['cross.*'] },
      (event) => void received.push(event),
    );
    await unsubscribe.ready;
    const ids = await publishOn(writer.baseUrl)('cross.tick', 600);
    await eventually(() => expect(received).toHaveLength(600), 20_000);
    expectOrderedOnce(received, ids);
    await unsubscribe();
    await publishOn(writer.baseUrl)('cross.tick', 5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toHaveLength(600);
  });

  // B hands its own commits to its subscribers without reading them back, and reads A's: interleaved,
  // each event must still arrive once and in seq order.
  it("interleaves instance B's own commits with A's, each once and in seq order", async () => {
    const received: HeraldEvent[] = [];
    const unsubscribe = client(reader.baseUrl).subscribe(
      { types: ['mixed.*'] },
      (event) => void received.push(event),
    );
    await unsubscribe.ready;
    const [remote, local] = await Promise.all([
      publishOn(writer.baseUrl)('mixed.remote', 400),
      publishOn(reader.baseUrl)('mixed.local', 400),
    ]);
    await eventually(() => expect(received).toHaveLength(800), 20_000);
    expectOrderedOnce(received, [...remote, ...local]);
    await unsubscribe();
  });

  it('resumes every subscription after the server it was connected to restarts', async () => {
    const port = await freePort();
    let instance = await startTestApp({}, reader.databaseUrl, port);
    const sdk = client(instance.baseUrl);
    const ticks: HeraldEvent[] = [];
    const others: HeraldEvent[] = [];
    await sdk.subscribe({ types: ['restart.tick'] }, (event) => void ticks.push(event)).ready;
    await sdk.subscribe({ types: ['restart.other'] }, (event) => void others.push(event)).ready;
    const disconnects: string[] = [];
    sdk.on('disconnected', (reason) => disconnects.push(reason));

    const publish = publishOn(writer.baseUrl);
    const before = await publish('restart.tick', 20);
    await eventually(() => expect(ticks).toHaveLength(20));
    await instance.close();
    const whileDown = await publish('restart.tick', 30);
    const otherWhileDown = await publish('restart.other', 3);
    instance = await startTestApp({}, reader.databaseUrl, port);
    try {
      const after = await publish('restart.tick', 10);
      await eventually(() => expect(ticks).toHaveLength(60), 20_000);
      expectOrderedOnce(ticks, [...before, ...whileDown, ...after]);
      await eventually(() => expect(others.map((e) => e.id).sort()).toEqual([...otherWhileDown].sort()));
      expect(disconnects.length).toBeGreaterThanOrEqual(1);
    } finally {
      await instance.close();
    }
  });

  it('subscribes after an event id, replaying only what came after it', async () => {
    const [marker] = await publishOn(reader.baseUrl)('byid.marker', 1);
    const later = await publishOn(reader.baseUrl)('byid.tick', 3, 1);
    const received: HeraldEvent[] = [];
    const subscription = client(reader.baseUrl).subscribe(
      { types: ['byid.*'], after: marker },
      (event) => void received.push(event),
    );
    await subscription.ready;
    await eventually(() => expect(received.map((e) => e.id)).toEqual(later));
  });

  it('ends on the server a subscription unsubscribed before the server answered it', async () => {
    const sdk = client(reader.baseUrl);
    await eventually(() => sdk.connected);
    // One more than a connection may hold, each sent and unsubscribed at once: any left running on the
    // server would count against the last subscribe.
    for (let i = 0; i <= 100; i++) {
      const unsubscribe = sdk.subscribe({ types: ['gone.*'] }, () => undefined);
      await unsubscribe();
    }
    await expect(sdk.subscribe({ types: ['kept.*'] }, () => undefined).ready).resolves.toBeUndefined();
  });

  it('reaches a gateway served under a path prefix through the path option', async () => {
    const proxy = await startPathPrefixProxy(reader.baseUrl, '/herald');
    try {
      const sdk = connect({ url: proxy.url, path: '/herald/socket.io', token, reconnectionDelayMaxMs: 500 });
      clients.push(sdk);
      const received: HeraldEvent[] = [];
      await sdk.subscribe({ types: ['prefixed.*'] }, (event) => void received.push(event)).ready;
      const ids = await publishOn(reader.baseUrl)('prefixed.tick', 3, 1);
      await eventually(() => expect(received.map((e) => e.id)).toEqual(ids));
      sdk.close();
    } finally {
      await proxy.close();
    }
  });

  it('rejects ready of every subscription left unanswered by close(), and any subscribe after it', async () => {
    const sdk = client(reader.baseUrl);
    const pending = sdk.subscribe({ types: ['closed.*'] }, () => undefined);
    sdk.close();
    const settled = (ready: Promise<void>) =>
      Promise.race([
        ready.then(
          () => 'resolved',
          (error: unknown) => error,
        ),
        new Promise((resolve) => setTimeout(() => resolve('still pending'), 2_000)),
      ]);
    expect(await settled(pending.ready)).toMatchObject({ code: 'closed' });
    expect(await settled(sdk.subscribe({}, () => undefined).ready)).toMatchObject({ code: 'closed' });
  });

  it('reports a refused key and a refused filter as HeraldClientError with the cause', async () => {
    const refused = client(reader.baseUrl, 'hrld_nope');
    const errors: HeraldClientError[] = [];
    refused.on('error', (error) => errors.push(error));
    const pending = refused.subscribe({}, () => undefined);
    await expect(pending.ready).rejects.toMatchObject({ code: 'unauthorized' });
    expect(errors[0]).toBeInstanceOf(HeraldClientError);
    // A later subscribe says why the client stopped, not only that it did.
    await expect(refused.subscribe({}, () => undefined).ready).rejects.toMatchObject({
      code: 'unauthorized',
    });

    const sdk = client(reader.baseUrl);
    const bad = sdk.subscribe({ types: ['bad..pattern'] }, () => undefined);
    const error = await bad.ready.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeraldClientError);
    expect(error).toMatchObject({
      code: 'subscribe_failed',
      serverCode: 'invalid_filter',
      cause: { code: 'invalid_filter' },
    });
  });
});
