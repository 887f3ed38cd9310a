import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { StreamSource } from '@herald/events';
import { createJellyfishAdapter } from '../src/index.js';
import { MAX_FRAME_BYTES } from '../src/server-socket-stream.js';
import { FakeJellyfishServer, ServerMessage_EventType } from '../src/testing/index.js';
import { eventually } from './support/eventually.js';
import { SDK_IDS, SDK_NOTIFICATIONS } from './support/sdk-notifications.js';
import {
  FAST_TIMING,
  recordingContext,
  stateNames,
  type RecordingContext,
} from './support/stream-harness.js';

const adapter = createJellyfishAdapter({ streamTiming: FAST_TIMING });
const roomCreated = { case: 'roomCreated', value: { roomId: SDK_IDS.ROOM } } as const;

describe('jellyfish server-socket stream', () => {
  let server: FakeJellyfishServer;
  const running: StreamSource[] = [];

  beforeEach(async () => {
    server = await FakeJellyfishServer.start({ validTokens: ['good-token'] });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((stream) => stream.stop()));
    await server.close();
  });

  function startStream(
    config: Record<string, unknown> = {},
    recording: RecordingContext = recordingContext(),
    { createStream } = adapter,
  ): RecordingContext & { stream: StreamSource } {
    const checked = adapter.parseConfig('stream', {
      serverUrl: server.url,
      serverApiToken: 'good-token',
      ...config,
    });
    if (!checked.ok) throw new Error(checked.errors.join('; '));
    const stream = createStream!(checked.config, recording.context);
    running.push(stream);
    stream.start();
    return { ...recording, stream };
  }

  async function connected(recording: RecordingContext, times = 1): Promise<void> {
    await eventually(() =>
      expect(stateNames(recording.states).filter((s) => s === 'connected')).toHaveLength(times),
    );
  }

  it('authenticates, subscribes to server notifications only, then reports connected', async () => {
    const source = startStream();
    await connected(source);
    expect(stateNames(source.states)).toEqual(['connecting', 'connected']);
    expect(server.counters).toEqual({ connections: 1, authAttempts: 1 });
    expect(server.subscribers(ServerMessage_EventType.SERVER_NOTIFICATION)).toBe(1);
    expect(server.subscribers(ServerMessage_EventType.METRICS)).toBe(0);
  });

  it('decodes every SDK-encoded notification pushed over the socket, in order', async () => {
    const source = startStream();
    await connected(source);
    const pushed = Date.now();
    for (const sdkCase of SDK_NOTIFICATIONS) server.pushNotification(sdkCase.bytes);
    await eventually(() => expect(source.events).toHaveLength(SDK_NOTIFICATIONS.length));
    const arrived = Date.now();
    expect(source.events).toEqual(
      SDK_NOTIFICATIONS.map((c) => ({
        ...c.expected,
        raw: { body: c.bytes, contentType: 'application/x-protobuf' },
        receivedAt: expect.any(Date),
      })),
    );
    // Stamped by the adapter as each frame arrived (the gateway would otherwise use its commit time).
    for (const { receivedAt } of source.events) {
      expect(receivedAt!.getTime()).toBeGreaterThanOrEqual(pushed);
      expect(receivedAt!.getTime()).toBeLessThanOrEqual(arrived);
    }
  });

  it('says, when a server drops the metrics subscription, that it may have no metrics', async () => {
    server.offersMetrics = false;
    const source = startStream({ metrics: true });
    await eventually(() => expect(stateNames(source.states)).toContain('backoff'));
    expect(source.states.find((change) => change.state === 'backoff')?.reason).toMatch(
      /code 1006.*while subscribing to .*METRICS.*set metrics to false/,
    );
  });

  it('subscribes to metrics only when asked', async () => {
    const withMetrics = startStream({ metrics: true });
    const withoutMetrics = startStream();
    await connected(withMetrics);
    await connected(withoutMetrics);
    expect(server.subscribers(ServerMessage_EventType.METRICS)).toBe(1);

    server.pushMetrics('{"room_id=r1":{"endpoint_id=p1":{"inbound-rtp.packets":10}}}');
    server.pushNotification(roomCreated);
    await eventually(() => expect(withMetrics.events).toHaveLength(2));
    await eventually(() => expect(withoutMetrics.events).toHaveLength(1));
    expect(withMetrics.events[0]).toMatchObject({
      type: 'jellyfish.metrics.report',
      data: { metrics: { 'room_id=r1': { 'endpoint_id=p1': { 'inbound-rtp.packets': 10 } } } },
    });
    // The notification pushed after the report arrived alone: the report never reached this socket.
    expect(withoutMetrics.events.map((event) => event.type)).toEqual(['jellyfish.room.created']);
  });

  it('stops for good on close 1000 "invalid token": auth_failed and no reconnect storm', async () => {
    const source = startStream({ serverApiToken: 'wrong-token' });
    await eventually(() => expect(stateNames(source.states)).toContain('auth_failed'));
    expect(source.states).toEqual([
      { state: 'connecting' },
      { state: 'auth_failed', reason: 'invalid token' },
    ]);
    expect(source.clock.pendingTimers).toBe(0);
    // Ten backoff periods: a retrying source would have reconnected several times by now.
    await new Promise((resolve) => setTimeout(resolve, 10 * FAST_TIMING.backoff.initialMs!));
    expect(server.counters).toEqual({ connections: 1, authAttempts: 1 });
    expect(stateNames(source.states)).toEqual(['connecting', 'auth_failed']);
  });

  it('reconnects after an abrupt drop and events flow again', async () => {
    const source = startStream();
    await connected(source);
    server.dropAll();
    await connected(source, 2);
    expect(stateNames(source.states)).toEqual([
      'connecting',
      'connected',
      'backoff',
      'connecting',
      'connected',
    ]);
    expect(source.states[2]!.reason).toMatch(/code 1006/);
    expect(server.counters.connections).toBe(2);

    server.pushNotification(roomCreated);
    await eventually(() =>
      expect(source.events.map((event) => event.type)).toEqual(['jellyfish.room.created']),
    );
  });

  it('reconnects after any other close, giving the code and reason', async () => {
    const source = startStream();
    await connected(source);
    server.closeAll(1011, 'server restarting');
    await connected(source, 2);
    expect(source.states[2]).toEqual({
      state: 'backoff',
      reason: 'connection closed (code 1011): server restarting',
    });
  });

  it('keeps the delays growing while a server drops each connection right after its handshake', async () => {
    const recording = recordingContext();
    const delays: number[] = [];
    const { logger } = recording.context;
    const delayOf = (entry: { delayMs?: number }) =>
      void (entry.delayMs !== undefined && delays.push(entry.delayMs));
    (recording.context as { logger: typeof logger }).logger = { ...logger, warn: delayOf, info: delayOf };
    const source = startStream({}, recording);
    for (let times = 1; times <= 3; times++) {
      await connected(source, times);
      server.closeAll(1011, 'flapping');
    }
    await connected(source, 4);
    // 20, 40, 80 ms ceilings at the harness's 0.5 jitter; a start over at every connection made each 15.
    expect(delays).toEqual([15, 30, 60]);
  });

  it('closes a connection that sends a frame over 8 MiB, rather than holding it, and connects again', async () => {
    // Pings far apart: on a busy machine, sending 8 MiB took longer than FAST_TIMING's 100 ms pong wait.
    const patient = createJellyfishAdapter({
      streamTiming: { ...FAST_TIMING, pingIntervalMs: 10_000, pongTimeoutMs: 10_000 },
    });
    const source = startStream({}, recordingContext(), patient);
    await connected(source);
    server.pushNotification(new Uint8Array(MAX_FRAME_BYTES + 1));
    await connected(source, 2);
    expect(source.states[2]).toEqual({
      state: 'backoff',
      reason: expect.stringContaining('Max payload size exceeded'),
    });
    expect(source.events).toEqual([]);
  });

  it('keeps retrying an unreachable server with backoff, warning once', async () => {
    const stopped = server;
    server = await FakeJellyfishServer.start(); // a live one for afterEach to close
    await stopped.close();
    const recording = recordingContext();
    const warnings: string[] = [];
    const { logger } = recording.context;
    (recording.context as { logger: typeof logger }).logger = {
      ...logger,
      warn: (_: object, message?: string) => void warnings.push(message ?? ''),
    };
    const source = startStream({ serverUrl: stopped.url }, recording);
    await eventually(() =>
      expect(stateNames(source.states).filter((s) => s === 'backoff').length).toBeGreaterThan(1),
    );
    expect(source.states.find((change) => change.state === 'backoff')?.reason).toMatch(/ECONNREFUSED/);
    expect(stateNames(source.states)).not.toContain('connected');
    expect(warnings).toEqual(['jellyfish stream disconnected']);
  });

  it('answers the server pings (ws pongs automatically)', async () => {
    const source = startStream();
    await connected(source);
    await expect(server.pingAll()).resolves.toBe(1);
  });

  it('detects a dead connection (no pong), reconnects, and times out a handshake that never completes', async () => {
    const source = startStream();
    await connected(source);
    server.unresponsive = true;
    await eventually(() =>
      expect(source.states).toContainEqual({
        state: 'backoff',
        reason: `no pong within ${FAST_TIMING.pongTimeoutMs} ms`,
      }),
    );
    await eventually(() =>
      expect(source.states).toContainEqual({
        state: 'backoff',
        reason: `handshake timed out after ${FAST_TIMING.handshakeTimeoutMs} ms (authenticating)`,
      }),
    );
    server.unresponsive = false;
    await connected(source, 2);
  });

  it('keeps undecodable frames as jellyfish.unknown with their bytes', async () => {
    const source = startStream();
    await connected(source);
    const garbage = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
    server.pushNotification(garbage);
    await eventually(() => expect(source.events).toHaveLength(1));
    expect(source.events[0]).toMatchObject({
      type: 'jellyfish.unknown',
      data: { reason: 'undecodable' },
      raw: { body: garbage, contentType: 'application/x-protobuf' },
    });
  });

  it('logs a failed emit and keeps later events in order', async () => {
    let calls = 0;
    const source = startStream(
      {},
      recordingContext(async (events, stored) => {
        if (++calls === 1) throw new Error('store unavailable');
        stored.push(...events);
      }),
    );
    await connected(source);
    server.pushNotification(roomCreated);
    server.pushNotification({ case: 'roomDeleted', value: { roomId: SDK_IDS.ROOM } });
    server.pushNotification({ case: 'roomCrashed', value: { roomId: SDK_IDS.ROOM } });
    await eventually(() => expect(source.events).toHaveLength(2));
    expect(source.events.map((event) => event.type)).toEqual([
      'jellyfish.room.deleted',
      'jellyfish.room.crashed',
    ]);
    expect(source.errorLogs).toHaveLength(1);
  });

  it('stop() closes the socket, cancels every timer and reports stopped', async () => {
    const source = startStream();
    await connected(source);
    await source.stream.stop();
    expect(source.states.at(-1)).toEqual({ state: 'stopped' });
    expect(source.clock.pendingTimers).toBe(0);
    await eventually(() => expect(server.openSockets).toBe(0));
  });

  it('stop() during backoff cancels the pending reconnect', async () => {
    const source = startStream();
    await connected(source);
    server.dropAll();
    await eventually(() => expect(stateNames(source.states)).toContain('backoff'));
    await source.stream.stop();
    expect(source.clock.pendingTimers).toBe(0);
    expect(source.states.at(-1)).toEqual({ state: 'stopped' });
    expect(server.counters.connections).toBe(1);
  });
});
