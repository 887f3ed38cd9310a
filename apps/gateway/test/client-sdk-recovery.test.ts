import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { connect, type HeraldClient, type HeraldClientError, type HeraldEvent } from '@herald/client';
import { EVENTS_NAMESPACE } from '@herald/events';
import { Server } from 'socket.io';
import { freePort } from '../src/database/embedded-postgres.js';
import { eventually } from './support/http.js';

type Ack = (answer: unknown) => void;
type SubscribeHandler = (
  payload: { after?: string },
  ack: Ack,
  emit: (event: unknown) => void,
  announce: (position: { subscription: string; seq: string }) => void,
) => void;

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
  const unsubscribes: unknown[] = [];
  io.of(EVENTS_NAMESPACE)
    .use((_socket, next) => next(admit(++attempts)))
    .on('connection', (socket) => {
      connections++;
      socket.on('subscribe', (payload: { after?: string }, ack: Ack) =>
        onSubscribe(
          payload,
          ack,
          (event) => socket.emit('event', event),
          (position) => socket.emit('position', position),
        ),
      );
      socket.on('unsubscribe', (payload: unknown, ack: Ack) => {
        unsubscribes.push(payload);
        ack({ ok: true });
      });
    });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    connections: () => connections,
    unsubscribes,
    /** Closes every client's connection from the server's side, as a restart would. */
    disconnectAll: () => io.of(EVENTS_NAMESPACE).disconnectSockets(true),
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
}

/** A gateway that accepts every subscribe as `sub-1` and sends events 1 to `count` at once. */
const startBurstGateway = (count: number) =>
  startFakeGateway(
    () => undefined,
    (_payload, ack, emit) => {
      ack({ ok: true, id: 'sub-1', cursor: '0' });
      for (let seq = 1; seq <= count; seq++) emit({ subscription: 'sub-1', event: event(seq) });
    },
  );

/**
 * A gateway whose first subscription starts after `cursor` and gets `events`; restored from an older
 * backup after that, it refuses any resume point as beyond its newest event (`invalid_cursor`), and a
 * subscription from its present starts after `liveCursor` and gets `liveEvents`.
 */
async function startRestoredGateway(
  cursor: number,
  events: number[],
  liveCursor: number,
  liveEvents: number[],
) {
  const subscribes: Array<{ after?: string }> = [];
  const gateway = await startFakeGateway(
    () => undefined,
    (payload, ack, emit) => {
      subscribes.push(payload);
      const [id, after, sent] =
        subscribes.length === 1 ? ['sub-1', cursor, events] : ['sub-live', liveCursor, liveEvents];
      if (subscribes.length > 1 && payload.after !== undefined) {
        return ack({ ok: false, error: { code: 'invalid_cursor', message: 'beyond the newest event' } });
      }
      ack({ ok: true, id, cursor: String(after) });
      for (const seq of sent) emit({ subscription: id, event: event(seq) });
    },
  );
  return Object.assign(gateway, { subscribes });
}

/** A promise a handler can wait on, and what lets it through. */
function gated(): { gate: Promise<void>; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return { gate, open };
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

  it('hands events to an async handler one at a time, in seq order, each awaited', async () => {
    gateway = await startBurstGateway(20);
    client = connect({ url: gateway.url, token: 'hrld_any' });
    const handled: string[] = [];
    let running = 0;
    let mostAtOnce = 0;
    const subscription = client.subscribe({}, async (e) => {
      mostAtOnce = Math.max(mostAtOnce, ++running);
      await new Promise((resolve) => setTimeout(resolve, 20 - Number(e.seq)));
      handled.push(e.seq);
      running--;
    });
    await eventually(() => handled.length === 20);
    expect(handled).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    expect(mostAtOnce).toBe(1);
    // Persisting the cursor is safe: everything up to it is handled.
    expect(subscription.cursor).toBe('20');
  });

  it('ends a subscription whose handler falls maxPendingEvents behind, then resumes after the last event it took', async () => {
    const subscribes: Array<{ after?: string }> = [];
    gateway = await startFakeGateway(
      () => undefined,
      (payload, ack, emit) => {
        subscribes.push(payload);
        const id = `sub-${subscribes.length}`;
        const after = Number(payload.after ?? 0);
        ack({ ok: true, id, cursor: String(after) });
        for (let seq = after + 1; seq <= 50; seq++) emit({ subscription: id, event: event(seq) });
      },
    );
    client = connect({ url: gateway.url, token: 'hrld_any', maxPendingEvents: 10 });
    const { gate, open } = gated();
    const handled: string[] = [];
    client.subscribe({}, async (e) => {
      await gate;
      handled.push(e.seq);
    });
    // The handler is stuck on the first event: the client stops taking more and ends the subscription.
    await eventually(() => gateway!.unsubscribes.length === 1);
    expect(gateway.unsubscribes).toEqual([{ id: 'sub-1' }]);
    expect(subscribes).toHaveLength(1);
    open();
    await eventually(() => handled.length === 50);
    expect(handled).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)));
    // Each burst past the bound (the fake sends all it has at once) ends the subscription again, and each
    // new one starts after the last event taken.
    expect(gateway.unsubscribes).toEqual(subscribes.slice(0, -1).map((_, i) => ({ id: `sub-${i + 1}` })));
    const resumedAfter = subscribes.slice(1).map((payload) => Number(payload.after));
    expect(resumedAfter.every((after, i) => after > (resumedAfter[i - 1] ?? 0) && after < 50)).toBe(true);
  });

  it('moves the cursor to a position announced while the handler was busy, once it is done', async () => {
    gateway = await startFakeGateway(
      () => undefined,
      (_payload, ack, emit, announce) => {
        ack({ ok: true, id: 'sub-1', cursor: '0' });
        emit({ subscription: 'sub-1', event: event(1) });
        // Events 2–5 did not match; the server says it has got that far.
        announce({ subscription: 'sub-1', seq: '5' });
      },
    );
    client = connect({ url: gateway.url, token: 'hrld_any' });
    const { gate, open } = gated();
    let handled = 0;
    const subscription = client.subscribe({}, async () => {
      await gate;
      handled++;
    });
    await subscription.ready;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(subscription.cursor).toBe('0');
    open();
    await eventually(() => handled === 1);
    await eventually(() => subscription.cursor === '5');
  });

  it('goes on with the next event when an error listener throws, and throws that error outside', async () => {
    gateway = await startBurstGateway(3);
    // A listener's error is thrown again in a microtask of its own: caught here instead of failing the run.
    const thrown: unknown[] = [];
    const queue = globalThis.queueMicrotask;
    const rethrows = jest.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) =>
      queue(() => {
        try {
          callback();
        } catch (error) {
          thrown.push(error);
        }
      }),
    );
    try {
      client = connect({ url: gateway.url, token: 'hrld_any' });
      client.on('error', () => {
        throw new Error('the listener broke');
      });
      const handled: string[] = [];
      client.subscribe({}, (e) => {
        handled.push(e.seq);
        if (e.seq === '1') throw new Error('the handler broke');
      });
      await eventually(() => handled.length === 3);
      expect(handled).toEqual(['1', '2', '3']);
      await eventually(() => thrown.length === 1);
      expect((thrown[0] as Error).message).toBe('the listener broke');
    } finally {
      rethrows.mockRestore();
    }
  });

  it('runs no handler after close(), not even for events already taken', async () => {
    gateway = await startBurstGateway(5);
    client = connect({ url: gateway.url, token: 'hrld_any' });
    const { gate, open } = gated();
    const started: string[] = [];
    client.subscribe({}, async (e) => {
      started.push(e.seq);
      await gate;
    });
    await eventually(() => started.length === 1);
    client.close();
    open();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(started).toEqual(['1']);
  });

  it('goes on live, reporting cursor_reset, when the server’s log ends before its resume point', async () => {
    const { subscribes } = (gateway = await startRestoredGateway(10, [11], 0, [1]));
    client = connect({ url: gateway.url, token: 'hrld_any', reconnectionDelayMaxMs: 300 });
    const errors: HeraldClientError[] = [];
    client.on('error', (error) => errors.push(error));
    const received: string[] = [];
    const subscription = client.subscribe({}, (e) => void received.push(e.seq));
    await eventually(() => received.length === 1);
    gateway.disconnectAll();
    await eventually(() => received.length === 2);
    expect(received).toEqual(['11', '1']);
    expect(subscribes).toEqual([{}, { after: '11' }, {}]);
    expect(errors.map((error) => [error.code, error.serverCode])).toEqual([
      ['cursor_reset', 'invalid_cursor'],
    ]);
    expect(subscription.cursor).toBe('1');
  });

  it('counts only events waiting behind the one being handled against maxPendingEvents', async () => {
    gateway = await startFakeGateway(
      () => undefined,
      (_payload, ack, emit) => {
        ack({ ok: true, id: 'sub-1', cursor: '0' });
        for (let seq = 1; seq <= 5; seq++)
          setTimeout(() => emit({ subscription: 'sub-1', event: event(seq) }), seq * 30);
      },
    );
    client = connect({ url: gateway.url, token: 'hrld_any', maxPendingEvents: 1 });
    const handled: string[] = [];
    client.subscribe({}, (e) => void handled.push(e.seq));
    await eventually(() => handled.length === 5);
    expect(gateway.unsubscribes).toEqual([]);
  });

  it('shows no cursor from the restored log while events of the old one still wait for the handler', async () => {
    const { subscribes } = (gateway = await startRestoredGateway(0, [1, 2, 3, 4, 5], 3, []));
    client = connect({ url: gateway.url, token: 'hrld_any', reconnectionDelayMaxMs: 300 });
    client.on('error', () => undefined);
    const { gate, open } = gated();
    const handled: string[] = [];
    const subscription = client.subscribe({}, async (e) => {
      await gate;
      handled.push(e.seq);
    });
    await eventually(() => subscribes.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    gateway.disconnectAll();
    await eventually(() => subscribes.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Events 2–5 of the old log still wait: a cursor persisted now must not be the new log's 3.
    expect(subscription.cursor).toBeUndefined();
    open();
    await eventually(() => handled.length === 5);
    await eventually(() => subscription.cursor === '3');
  });

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

  it('backs off before each reconnection while subscribes go unanswered, as from a server swamped by a restart', async () => {
    const connectedAt: number[] = [];
    let subscribes = 0;
    gateway = await startFakeGateway(
      () => void connectedAt.push(performance.now()),
      (_payload, ack) => {
        if (++subscribes <= 4) return; // never answered
        ack({ ok: true, id: 'sub-5', cursor: '0' });
      },
    );
    client = connect({
      url: gateway.url,
      token: 'hrld_any',
      ackTimeoutMs: 100,
      reconnectionDelayMaxMs: 5_000,
    });
    const subscription = client.subscribe({}, () => undefined);
    await subscription.ready;
    expect(connectedAt).toHaveLength(5);
    // Each reconnection waits out the ack timeout and then a backoff of 250 ms doubling (at least half
    // of it): 125, 250, 500 and 1,000 ms at the least. Reconnecting at once took the ack timeout alone.
    const gaps = connectedAt.slice(1).map((at, i) => at - connectedAt[i]!);
    [125, 250, 500, 1_000].forEach((least, i) => expect(gaps[i]).toBeGreaterThanOrEqual(100 + least));
  });
});
