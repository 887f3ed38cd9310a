import type { StreamSource } from '@herald/events';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  SeatableRealtimeStream,
  seatableAdapter,
  type RealtimeStreamOptions,
  type SeatableStreamConfig,
} from '../src/index.js';
import { FakeSeatableServer } from '../src/testing/index.js';
import * as ops from './fixtures/socket-ops.js';
import { eventually, FakeClock, RecordingContext } from './helpers.js';

const FAST: RealtimeStreamOptions = { backoff: { initialMs: 20, maxMs: 100 }, joinTimeoutMs: 300 };
const DAY_MS = 24 * 60 * 60 * 1000;

/** The states of a stream refused twice before it reaches `last`. */
const afterTwoBackoffs = (last: string) => [
  'connecting',
  'backoff',
  'connecting',
  'backoff',
  'connecting',
  last,
];

let server: FakeSeatableServer;
let stream: StreamSource | undefined;

function streamConfig(apiToken = 'fake-api-token'): SeatableStreamConfig {
  const check = seatableAdapter.parseConfig('stream', { serverUrl: server.url, apiToken });
  if (!check.ok) throw new Error(check.errors.join('; '));
  return check.config as unknown as SeatableStreamConfig;
}

function startStream(ctx: RecordingContext, options: RealtimeStreamOptions = FAST, apiToken?: string) {
  stream = new SeatableRealtimeStream(streamConfig(apiToken), ctx, options);
  stream.start();
  return stream;
}

async function connected(ctx: RecordingContext, times = 1): Promise<void> {
  await eventually(() => expect(ctx.stateNames.filter((state) => state === 'connected')).toHaveLength(times));
  // The server acks join-room after joining the room, so broadcasts reach the socket from here on.
  await eventually(async () => expect(await server.joinedSocketCount()).toBe(1));
}

beforeEach(async () => {
  server = await FakeSeatableServer.start();
});

afterEach(async () => {
  await stream?.stop();
  stream = undefined;
  await server.close();
});

describe('SeaTable realtime stream', () => {
  it('joins with a base token and turns every op type into events, in order', async () => {
    const ctx = new RecordingContext();
    stream = seatableAdapter.createStream?.({ ...streamConfig() }, ctx);
    stream?.start();
    await connected(ctx);
    expect(ctx.stateNames).toEqual(['connecting', 'connected']);

    const sent = [
      ops.insertRowOp,
      ops.modifyRowOp,
      ops.deleteRowOp,
      ops.insertRowsOp,
      ops.modifyRowsOp,
      ops.deleteRowsOp,
      ops.renameColumnOp,
      ops.addLinkOp,
    ];
    const versions = sent.map((op) => server.broadcastOp(op));
    server.sendNotification({
      id: 7,
      username: '',
      dtable_uuid: server.dtableUuid,
      msg_type: 'text',
      detail: { msg: 'sync failed' },
    });

    await eventually(() => expect(ctx.events).toHaveLength(sent.length + 1));
    expect(ctx.events.map((event) => event.type)).toEqual([
      'seatable.row.inserted',
      'seatable.row.modified',
      'seatable.row.deleted',
      'seatable.rows.inserted',
      'seatable.rows.modified',
      'seatable.rows.deleted',
      'seatable.op.rename_column',
      'seatable.link.added',
      'seatable.notification',
    ]);
    expect(ctx.events.map((event) => event.data.version)).toEqual([...versions, undefined]);
    expect(ctx.events[0]?.data).toMatchObject({
      rowId: 'RngJuRa0SMGXyiA-SHDiAw',
      anchorRowId: 'YFK9bD1XReSuQ7WP1YYjMA',
    });
    expect(new TextDecoder().decode(ctx.events[1]?.raw?.body)).toBe(JSON.stringify(ops.modifyRowOp));
    expect(ctx.eventsOfType('herald.source.gap')).toEqual([]);
    expect(server.counters).toMatchObject({ tokenRequests: 1, connections: 1, joins: 1 });
  });

  it('ends in auth_failed when the API token is refused, and never retries', async () => {
    const clock = new FakeClock();
    const ctx = new RecordingContext(clock);
    startStream(ctx, FAST, 'wrong-token');
    await eventually(() => expect(ctx.lastState?.state).toBe('auth_failed'));
    expect(ctx.lastState?.reason).toMatch(/refused the API token \(HTTP 401\)/);
    expect(clock.pendingTimers).toBe(0);

    clock.advance(7 * DAY_MS);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.counters).toMatchObject({ tokenRequests: 1, connections: 0 });
    expect(ctx.stateNames).toEqual(['connecting', 'auth_failed']);
  });

  it('retries a refused join once with a fresh token, backs off, and gives up after repeated refusals', async () => {
    server.joinFailure = { errorType: 'permission_denied', message: 'Permission denied' };
    const ctx = new RecordingContext();
    startStream(ctx, { ...FAST, maxAuthFailures: 3 });
    await eventually(() => expect(ctx.lastState?.state).toBe('auth_failed'));
    expect(ctx.lastState?.reason).toMatch(/join-room refused: permission_denied.*3 times/);
    expect(ctx.stateNames).toEqual(afterTwoBackoffs('auth_failed'));
    const settled = { ...server.counters };
    // One token, then one renewal per connection; two join attempts per connection.
    expect(settled).toEqual({
      tokenRequests: 4,
      connections: 3,
      joinAttempts: 6,
      joins: 0,
      unknownApiTokens: 0,
    });

    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.counters).toEqual(settled);
  });

  it('heals a stale base token by renewing it once, without backing off', async () => {
    server.joinFailure = { errorType: 'token_expired', times: 1 };
    const ctx = new RecordingContext();
    startStream(ctx);
    await connected(ctx);
    expect(ctx.stateNames).toEqual(['connecting', 'connected']);
    expect(server.counters).toMatchObject({ tokenRequests: 2, connections: 1, joinAttempts: 2, joins: 1 });
  });

  it.each(['dtable_load_failed', 'internal_error'])(
    'keeps retrying transient join failures (%s) with backoff, on a new socket each time',
    async (errorType) => {
      server.joinFailure = { errorType, times: 2 };
      const ctx = new RecordingContext();
      startStream(ctx, { ...FAST, maxAuthFailures: 1 });
      await connected(ctx);
      // The server does not answer a second join-room on the same socket: each refusal reconnects.
      expect(ctx.stateNames).toEqual(afterTwoBackoffs('connected'));
      expect(server.counters).toMatchObject({ connections: 3, joinAttempts: 3 });
      expect(ctx.states[1]?.reason).toMatch(new RegExp(`join-room refused: ${errorType}`));
    },
  );

  it('recovers from a server-side disconnect and keeps delivering events', async () => {
    const ctx = new RecordingContext();
    startStream(ctx);
    await connected(ctx);
    server.broadcastOp(ops.insertRowOp);
    await eventually(() => expect(ctx.events).toHaveLength(1));

    server.disconnectAll();
    await connected(ctx, 2);
    expect(ctx.states).toContainEqual({ state: 'backoff', reason: 'disconnected: io server disconnect' });
    server.broadcastOp(ops.modifyRowOp);
    await eventually(() =>
      expect(ctx.events.map((event) => event.type)).toEqual([
        'seatable.row.inserted',
        'seatable.row.modified',
      ]),
    );
    // The cached base token is reused for the rejoin.
    expect(server.counters).toMatchObject({ tokenRequests: 1, connections: 2, joins: 2 });
  });

  it('reports a herald.source.gap when versions jump', async () => {
    const ctx = new RecordingContext();
    startStream(ctx);
    await connected(ctx);
    const first = server.broadcastOp(ops.insertRowOp);
    const jumped = server.broadcastOp(ops.modifyRowOp, { skipVersions: 3 });
    await eventually(() => expect(ctx.events).toHaveLength(3));
    expect(ctx.events.map((event) => event.type)).toEqual([
      'seatable.row.inserted',
      'herald.source.gap',
      'seatable.row.modified',
    ]);
    // Like Herald's other herald.source.* events, it names the source.
    expect(ctx.events[1]?.subject).toBe('sources/src-test');
    expect(ctx.events[1]?.data).toEqual({
      dtableUuid: server.dtableUuid.replaceAll('-', ''),
      fromVersion: first,
      toVersion: jumped,
      missing: 3,
      reason: 'version_jump',
    });
  });

  it('follows a base restored to an older version: new keys for its ops, gaps judged from there', async () => {
    const ctx = new RecordingContext();
    startStream(ctx);
    await connected(ctx);
    server.broadcastOp(ops.insertRowOp);
    server.broadcastOp(ops.modifyRowOp);
    server.restoreVersion(100);
    const afterRestore = server.broadcastOp(ops.deleteRowOp);
    const jumped = server.broadcastOp(ops.insertRowOp, { skipVersions: 1 });
    await eventually(() => expect(ctx.events).toHaveLength(5));
    expect(ctx.events.map((event) => event.type)).toEqual([
      'seatable.row.inserted',
      'seatable.row.modified',
      'seatable.row.deleted',
      'herald.source.gap',
      'seatable.row.inserted',
    ]);
    // Versions 101 and 102 count twice: the ops after the restore are not the ones stored before it.
    const keys = ctx.events.map((event) => event.dedupKey);
    expect(afterRestore).toBe(101);
    expect(keys[2]).toMatch(/:v101:/);
    expect(keys[2]).not.toBe(keys[0]);
    expect(new Set(keys).size).toBe(keys.length);
    expect(ctx.events[3]?.data).toMatchObject({ fromVersion: 101, toVersion: jumped, missing: 1 });
    expect(ctx.logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        obj: expect.objectContaining({ fromVersion: 102, toVersion: 101 }),
      }),
    );
  });

  it('reports a gap when the join ack shows the base moved on while disconnected', async () => {
    const ctx = new RecordingContext();
    startStream(ctx);
    await connected(ctx);
    const before = server.version;
    server.disconnectAll();
    server.advanceVersion(2);
    await connected(ctx, 2);
    await eventually(() => expect(ctx.eventsOfType('herald.source.gap')).toHaveLength(1));
    expect(ctx.eventsOfType('herald.source.gap')[0]?.data).toMatchObject({
      fromVersion: before,
      toVersion: before + 2,
      missing: 2,
      reason: 'rejoin',
    });
  });

  it('reports a gap on the first join when the base moved past the newest stored version', async () => {
    const ctx = new RecordingContext();
    // An earlier run stored ops up to version 7; the base has moved on to 12 since.
    server.advanceVersion(12 - server.version);
    ctx.storedKeys.push(
      `${server.dtableUuid.replaceAll('-', '')}:v5`,
      `${server.dtableUuid.replaceAll('-', '')}:v7`,
    );
    startStream(ctx);
    await connected(ctx);
    const next = server.broadcastOp(ops.insertRowOp);
    await eventually(() => expect(ctx.events).toHaveLength(2));
    expect(ctx.events.map((event) => event.type)).toEqual(['herald.source.gap', 'seatable.row.inserted']);
    expect(ctx.events[0]?.data).toEqual({
      dtableUuid: server.dtableUuid.replaceAll('-', ''),
      fromVersion: 7,
      toVersion: 12,
      missing: 5,
      reason: 'resume',
    });
    expect(next).toBe(13);
    expect(ctx.events[0]?.dedupKey).toBe(`${server.dtableUuid.replaceAll('-', '')}:gap:12`);
  });

  it('counts a resume gap from the last version a gap already reported, not only from the last op', async () => {
    const ctx = new RecordingContext();
    const base = server.dtableUuid.replaceAll('-', '');
    // Ops up to 120 were stored, then a rejoin found 121 missing; the base is at 122 now.
    server.advanceVersion(122 - server.version);
    ctx.storedKeys.push(`${base}:v120:digest`, `${base}:gap:121`);
    startStream(ctx);
    await connected(ctx);
    await eventually(() => expect(ctx.events).toHaveLength(1));
    expect(ctx.events[0]?.data).toMatchObject({
      fromVersion: 121,
      toVersion: 122,
      missing: 1,
      reason: 'resume',
    });
  });

  it('still reports the resume gap when an op beats the first join ack, without counting that op', async () => {
    const ctx = new RecordingContext();
    server.advanceVersion(12 - server.version);
    ctx.storedKeys.push(`${server.dtableUuid.replaceAll('-', '')}:v7`);
    server.beforeJoinAck = () => {
      server.beforeJoinAck = undefined;
      server.broadcastOp(ops.insertRowOp);
    };
    const started = Date.now();
    startStream(ctx);
    await connected(ctx);
    const joined = Date.now();
    await eventually(() => expect(ctx.events).toHaveLength(2));
    expect(ctx.events.map((event) => event.type)).toEqual(['seatable.row.inserted', 'herald.source.gap']);
    expect(ctx.events[1]?.data).toMatchObject({
      fromVersion: 7,
      toVersion: 12,
      missing: 5,
      reason: 'resume',
    });
    // Stamped when the join was answered, not when the gap was stored.
    const stamped = ctx.events[1]!.receivedAt!.getTime();
    expect(stamped).toBeGreaterThanOrEqual(started);
    expect(stamped).toBeLessThanOrEqual(joined);
  });

  it('connects and reports no gap when the newest stored version cannot be read', async () => {
    const ctx = new RecordingContext();
    server.advanceVersion(5);
    ctx.lastDedupKey = () => Promise.reject(new Error('database unreachable'));
    startStream(ctx);
    await connected(ctx);
    server.broadcastOp(ops.insertRowOp);
    await eventually(() => expect(ctx.events).toHaveLength(1));
    expect(ctx.events.map((event) => event.type)).toEqual(['seatable.row.inserted']);
  });

  it.each([
    ['the newest stored version is current', (version: number) => [`v${version}`]],
    ['nothing is stored', () => []],
    ['only other bases are stored', () => ['0000:v1']],
  ])('reports no gap on the first join when %s', async (_, stored) => {
    const ctx = new RecordingContext();
    const prefix = `${server.dtableUuid.replaceAll('-', '')}:`;
    ctx.storedKeys.push(
      ...stored(server.version).map((key) => (key.startsWith('0000') ? key : prefix + key)),
    );
    startStream(ctx);
    await connected(ctx);
    server.broadcastOp(ops.insertRowOp);
    await eventually(() => expect(ctx.events).toHaveLength(1));
    expect(ctx.events.map((event) => event.type)).toEqual(['seatable.row.inserted']);
  });

  it('renews the base token before its 3-day expiry and uses it for the next join', async () => {
    const clock = new FakeClock();
    await server.close();
    server = await FakeSeatableServer.start({ now: () => clock.now() });
    const ctx = new RecordingContext(clock);
    startStream(ctx, { ...FAST, tokenRefreshMarginMs: 60 * 60 * 1000 });
    await connected(ctx);
    const expiresAt = clock.now() + 3 * DAY_MS;
    expect(clock.nextTimerAt).toBe(expiresAt - 60 * 60 * 1000);

    clock.advance(3 * DAY_MS - 60 * 60 * 1000 - 1);
    expect(server.counters.tokenRequests).toBe(1);
    clock.advance(1);
    await eventually(() => expect(server.counters.tokenRequests).toBe(2));
    expect(clock.now()).toBeLessThan(expiresAt);
    await eventually(() =>
      expect(ctx.logs.some((entry) => entry.msg === 'SeaTable base token renewed')).toBe(true),
    );

    // Past the first token's expiry, a reconnect joins with the renewed token: no refusal, no new exchange.
    clock.advance(2 * 60 * 60 * 1000);
    server.disconnectAll();
    await eventually(() => expect(ctx.lastState?.state).toBe('backoff'));
    clock.advance(1_000);
    await connected(ctx, 2);
    expect(server.counters).toMatchObject({ tokenRequests: 2, joinAttempts: 2, joins: 2 });
  });

  it('keeps a joined socket when a renewal is refused, and renews once SeaTable takes the API token again', async () => {
    const clock = new FakeClock();
    await server.close();
    server = await FakeSeatableServer.start({ now: () => clock.now() });
    const ctx = new RecordingContext(clock);
    startStream(ctx, { ...FAST, tokenRefreshMarginMs: 60 * 60 * 1000, tokenRefreshRetryMs: 60_000 });
    await connected(ctx);
    server.apiTokens.delete('fake-api-token');
    clock.advance(3 * DAY_MS - 60 * 60 * 1000);
    await eventually(() =>
      expect(ctx.logs).toContainEqual(
        expect.objectContaining({
          msg: 'SeaTable refused to renew the base token; the joined socket goes on',
        }),
      ),
    );
    expect(ctx.lastState?.state).toBe('connected');
    server.broadcastOp(ops.deleteRowOp);
    await eventually(() => expect(ctx.events.map((event) => event.type)).toEqual(['seatable.row.deleted']));

    server.apiTokens.add('fake-api-token');
    clock.advance(60_000);
    await eventually(() =>
      expect(ctx.logs.some((entry) => entry.msg === 'SeaTable base token renewed')).toBe(true),
    );
    expect(server.counters).toMatchObject({ tokenRequests: 3, joins: 1 });
    // Connected throughout; the status said meanwhile what a reconnect would meet.
    expect(ctx.states).toEqual([
      { state: 'connecting' },
      { state: 'connected' },
      {
        state: 'connected',
        reason: expect.stringContaining('SeaTable refused to renew the base token (HTTP 401)'),
      },
      { state: 'connected' },
    ]);
  });

  it('treats an unanswered join-room as a failed connection', async () => {
    server.answerJoins = false;
    const ctx = new RecordingContext();
    startStream(ctx, { ...FAST, joinTimeoutMs: 100 });
    await eventually(() =>
      expect(ctx.states).toContainEqual({
        state: 'backoff',
        reason: 'join-room was not answered within 100 ms',
      }),
    );
    server.answerJoins = true;
    await connected(ctx);
  });

  it('reports an op that is not a JSON object or lacks an op_type as a gap of one, with its bytes', async () => {
    const ctx = new RecordingContext();
    startStream(ctx);
    await connected(ctx);
    const noType = server.broadcastOp({ table_id: '0000' });
    const notJson = server.broadcastOp('{"op_type": "modify_row", ');
    server.broadcastOp(ops.deleteRowOp);
    await eventually(() => expect(ctx.events).toHaveLength(3));
    expect(ctx.events.map((event) => [event.type, event.data])).toEqual([
      [
        'herald.source.gap',
        expect.objectContaining({
          fromVersion: noType - 1,
          toVersion: noType,
          missing: 1,
          reason: 'undecodable',
        }),
      ],
      [
        'herald.source.gap',
        expect.objectContaining({
          fromVersion: notJson - 1,
          toVersion: notJson,
          missing: 1,
          reason: 'undecodable',
        }),
      ],
      // No version_jump after them: they were received.
      ['seatable.row.deleted', expect.anything()],
    ]);
    expect(new TextDecoder().decode(ctx.events[1]!.raw!.body)).toBe('{"op_type": "modify_row", ');
    // Keyed by their bytes too: two at one version (or none) are both kept.
    expect(ctx.events[0]!.dedupKey).not.toBe(ctx.events[1]!.dedupKey);
    expect(ctx.events[1]!.dedupKey).toMatch(new RegExp(`:gap:${notJson}:undecodable:[\\w-]{16}$`));
    expect(ctx.events[1]!.raw!.contentType).toBe('text/plain');
    expect(ctx.logs).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: 'SeaTable op without a usable op_type' }),
    );
    expect(ctx.lastState?.state).toBe('connected');
  });

  it('logs a failed emit and keeps the following events flowing in order', async () => {
    const ctx = new RecordingContext();
    let calls = 0;
    ctx.emitImpl = async (events) => {
      calls++;
      if (calls === 1) throw new Error('store unavailable');
      // A slow commit must not let the next op overtake this one.
      if (events[0]?.type === 'seatable.row.modified')
        await new Promise((resolve) => setTimeout(resolve, 50));
    };
    startStream(ctx);
    await connected(ctx);
    server.broadcastOp(ops.insertRowOp);
    server.broadcastOp(ops.modifyRowOp);
    server.broadcastOp(ops.deleteRowOp);
    await eventually(() =>
      expect(ctx.events.map((event) => event.type)).toEqual([
        'seatable.row.modified',
        'seatable.row.deleted',
      ]),
    );
    expect(ctx.logs).toContainEqual(
      expect.objectContaining({ level: 'error', msg: 'SeaTable events could not be stored' }),
    );
  });

  it('stop() closes the socket, cancels every timer and reports stopped', async () => {
    const clock = new FakeClock();
    const ctx = new RecordingContext(clock);
    startStream(ctx);
    await connected(ctx);
    server.disconnectAll();
    await eventually(() => expect(ctx.lastState?.state).toBe('backoff'));
    expect(clock.pendingTimers).toBe(2); // the reconnect and the token renewal

    await stream?.stop();
    expect(clock.pendingTimers).toBe(0);
    expect(ctx.lastState).toEqual({ state: 'stopped' });
    clock.advance(DAY_MS);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.counters.connections).toBe(1);
    expect(await server.joinedSocketCount()).toBe(0);
  });

  it('stop() while connected leaves nothing joined', async () => {
    const ctx = new RecordingContext();
    startStream(ctx);
    await connected(ctx);
    await stream?.stop();
    await stream?.stop();
    expect(ctx.stateNames).toEqual(['connecting', 'connected', 'stopped']);
    await eventually(async () => expect(await server.joinedSocketCount()).toBe(0));
  });
});
