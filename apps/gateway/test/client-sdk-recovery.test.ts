import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { connect, type HeraldClient, type HeraldClientError, type HeraldEvent } from '@herald/client';
import { EVENTS_NAMESPACE } from '@herald/events';
import { Server } from 'socket.io';
import { freePort } from '../src/database/embedded-postgres.js';
import { eventually } from './support/http.js';

type Ack = (answer: unknown) => void;
type SubscribeHandler = (payload: { after?: string }, ack: Ack, emit: (event: unknown) => void) => void;

/**
 * A stand-in for the gateway's socket, scripted per test: what its middleware and its `subscribe`
 * answer. Faults the real gateway only shows while its database is failing.
 */
async function startFakeGateway(
  admit: (attempt: number) => Error | undefined,
  onSubscribe: SubscribeHandler,
  port = 0,
) {
  const http: HttpServer = createServer();
  const io = new Server(http);
  let connections = 0;
  let attempts = 0;
  io.of(EVENTS_NAMESPACE)
    .use((_socket, next) => next(admit(++attempts)))
    .on('connection', (socket) => {
      connections++;
      socket.on('subscribe', (payload: { after?: string }, ack: Ack) =>
        onSubscribe(payload, ack, (event) => socket.emit('event', event)),
      );
    });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
}

const event = (seq: number) =>
  ({ id: `evt-${seq}`, seq: String(seq), type: 'fake.tick' }) as unknown as HeraldEvent;

describe('@herald/client recovering from the server’s temporary refusals', () => {
  let client: HeraldClient | undefined;
  let gateway: Awaited<ReturnType<typeof startFakeGateway>> | undefined;
  afterEach(async () => {
    client?.close();
    await gateway?.close();
  });

  it('retries a connection the server could not check yet and a subscribe it could not set up yet', async () => {
    const subscribes: Array<{ after?: string }> = [];
    gateway = await startFakeGateway(
      (attempt) => (attempt === 1 ? new Error('unavailable') : undefined),
      (payload, ack, emit) => {
        subscribes.push(payload);
        if (subscribes.length === 1) return ack({ ok: false, error: { code: 'internal', message: 'retry' } });
        ack({ ok: true, id: 'sub-1', cursor: '10' });
        emit({ subscription: 'sub-1', event: event(11) });
      },
    );
    client = connect({ url: gateway.url, token: 'hrld_any', reconnectionDelayMaxMs: 300 });
    const errors: HeraldClientError[] = [];
    client.on('error', (error) => errors.push(error));
    const received: HeraldEvent[] = [];
    const subscription = client.subscribe({ after: 'evt-10' }, (e) => void received.push(e));

    await subscription.ready;
    await eventually(() => received.length === 1);
    expect(received[0]!.seq).toBe('11');
    expect(subscribes).toEqual([{ after: 'evt-10' }, { after: 'evt-10' }]);
    expect(errors.map((error) => error.code)).toEqual(['connection_failed', 'subscribe_failed']);
  });

  it('reports each failed attempt to reach a server that is not there yet, and subscribes once it is', async () => {
    const port = await freePort();
    client = connect({ url: `http://127.0.0.1:${port}`, token: 'hrld_any', reconnectionDelayMaxMs: 300 });
    const errors: HeraldClientError[] = [];
    client.on('error', (error) => errors.push(error));
    const subscription = client.subscribe({}, () => undefined);
    await eventually(() => errors.length >= 2);
    expect(new Set(errors.map((error) => error.code))).toEqual(new Set(['connection_failed']));

    gateway = await startFakeGateway(
      () => undefined,
      (_payload, ack) => ack({ ok: true, id: 'sub-1', cursor: '0' }),
      port,
    );
    await subscription.ready;
    expect(client.connected).toBe(true);
  });

  it.each(['localhost:8080', 'ftp://herald.example.com', 'not a url'])(
    'refuses %s as the gateway URL at once',
    (url) => {
      expect(() => connect({ url, token: 'hrld_any' })).toThrow("url must be the gateway's http(s) URL");
    },
  );

  it('reconnects and resumes when a subscribe goes unanswered on a live connection', async () => {
    const subscribes: Array<{ after?: string }> = [];
    gateway = await startFakeGateway(
      () => undefined,
      (payload, ack, emit) => {
        subscribes.push(payload);
        if (subscribes.length === 1) return; // never answered
        ack({ ok: true, id: 'sub-2', cursor: '20' });
        emit({ subscription: 'sub-2', event: event(21) });
      },
    );
    client = connect({ url: gateway.url, token: 'hrld_any', ackTimeoutMs: 300, reconnectionDelayMaxMs: 300 });
    const received: HeraldEvent[] = [];
    const subscription = client.subscribe({ after: '20' }, (e) => void received.push(e));

    await subscription.ready;
    await eventually(() => received.length === 1);
    expect(gateway.connections()).toBe(2);
    expect(subscribes).toHaveLength(2);
  });
});
