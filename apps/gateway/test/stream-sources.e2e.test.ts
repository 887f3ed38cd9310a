import { type AddressInfo, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { encodeServerMessage, FakeJellyfishServer } from '@herald/jellyfish/testing';
import { FakeSeatableServer } from '@herald/seatable/testing';
import pg from 'pg';
import { AdvisoryLock } from '../src/database/advisory-locks.js';
import { apiClient, eventually } from './support/http.js';
import { capturedLogs, startTestApp, type TestApp } from './support/test-app.js';

describe('stream sources run by the gateway', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;
  let seatable: FakeSeatableServer;
  let jellyfish: FakeJellyfishServer;
  const logs = capturedLogs();

  const eventsOf = async (sourceId: string) =>
    (await admin('GET', `/v1/events?source=${sourceId}&limit=500`)).body.data as Array<{
      type: string;
      data: any;
      subject?: string;
      time: string;
      receivedat: string;
    }>;
  const typesOf = async (sourceId: string) => (await eventsOf(sourceId)).map((e) => e.type);
  const createStream = (name: string, provider: string, config: Record<string, unknown>) =>
    admin('POST', '/v1/sources', { body: { name, provider, mode: 'stream', config } });
  const streamEventsStored = async (provider: string) => {
    const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
    const line = new RegExp(
      `^herald_stream_events_total\\{provider="${provider}",outcome="stored"\\} (\\d+)$`,
      'm',
    );
    return Number(line.exec(metrics)?.[1]);
  };
  const statusOf = async (sourceId: string) => (await admin('GET', `/v1/sources/${sourceId}/status`)).body;
  /** A SeaTable stream source on the fake server, once connected; returns its id. */
  const connectedSeatable = async (name: string): Promise<string> => {
    const created = await createStream(name, 'seatable', {
      serverUrl: seatable.url,
      apiToken: 'good-api-token',
    });
    const id: string = created.body.id;
    await eventually(async () => expect((await statusOf(id)).state).toBe('connected'));
    return id;
  };
  /** Deletes a row in the base and waits until the source has stored it; returns the op's version. */
  const rowDeleted = async (sourceId: string, rowId: string): Promise<number> => {
    const version = seatable.broadcastOp({ op_type: 'delete_row', table_id: '0000', row_id: rowId });
    await eventually(async () =>
      expect((await eventsOf(sourceId)).map((e) => e.subject)).toContain(`tables/0000/rows/${rowId}`),
    );
    return version;
  };

  beforeAll(async () => {
    [herald, seatable, jellyfish] = await Promise.all([
      startTestApp({}, undefined, 0, logs.logger),
      FakeSeatableServer.start({ apiTokens: ['good-api-token'] }),
      FakeJellyfishServer.start({ validTokens: ['server-token'] }),
    ]);
    admin = apiClient(herald.baseUrl, herald.adminToken);
  });
  afterAll(async () => {
    await herald.close();
    await Promise.all([seatable.close(), jellyfish.close()]);
  });

  it('connects a SeaTable base, stores its operations, and sends toasts', async () => {
    const created = await createStream('base', 'seatable', {
      serverUrl: seatable.url,
      apiToken: 'good-api-token',
    });
    expect(created.status).toBe(201);
    expect(created.body.ingestUrl).toBeUndefined();
    expect(JSON.stringify(created.body)).not.toContain('good-api-token');
    const id = created.body.id;
    const storedBefore = await streamEventsStored('seatable');
    await eventually(async () =>
      expect(await statusOf(id)).toMatchObject({ state: 'connected', connectedSince: expect.any(String) }),
    );
    // The state row is written just before the state's event: wait for the event too.
    await eventually(async () => expect(await typesOf(id)).toEqual(['herald.source.connected']));

    seatable.broadcastOp({
      op_type: 'modify_row',
      table_id: '0000',
      row_id: 'row1',
      updated: { '0000': 'new' },
      old_row: { '0000': 'old' },
    });
    seatable.broadcastOp({
      op_type: 'rename_column',
      table_id: '0000',
      column_key: 'abcd',
      new_column_name: 'Renamed',
    });
    seatable.broadcastOp({ op_type: 'delete_row', table_id: '0000', row_id: 'row1' }, { skipVersions: 3 });
    await eventually(async () =>
      expect(await typesOf(id)).toEqual([
        'herald.source.connected',
        'seatable.row.modified',
        'seatable.op.rename_column',
        'herald.source.gap',
        'seatable.row.deleted',
      ]),
    );
    const gap = (await eventsOf(id)).find((e) => e.type === 'herald.source.gap')!;
    expect(gap.data).toMatchObject({ missing: 3 });
    // What the stream received (its ops and the gap it found), counted for operators.
    expect((await streamEventsStored('seatable')) - storedBefore).toBe(4);

    const toast = await admin('POST', `/v1/sources/${id}/toasts`, {
      body: { toUser: 'u@auth.local', message: 'Hi', type: 'success' },
    });
    expect(toast.status).toBe(200);
    expect(seatable.toasts).toHaveLength(1);
    const badToast = await admin('POST', `/v1/sources/${id}/toasts`, { body: { toUser: 'u@auth.local' } });
    expect(badToast.status).toBe(400);
    expect(badToast.body.errors).toEqual([
      { field: 'message', message: 'message must be a non-empty string' },
    ]);
  });

  it('answers 504 upstream_unreachable, not database_unavailable, when SeaTable cannot be reached for a toast', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const created = await admin('POST', '/v1/sources', {
      body: {
        name: 'unreachable',
        provider: 'seatable',
        mode: 'stream',
        enabled: false,
        config: { serverUrl: `http://127.0.0.1:${closed}`, apiToken: 'token' },
      },
    });
    const toast = await admin('POST', `/v1/sources/${created.body.id}/toasts`, {
      body: { toUser: 'u@auth.local', message: 'Hi', type: 'success' },
    });
    expect(toast.status).toBe(504);
    expect(toast.body.code).toBe('upstream_unreachable');
    expect(toast.headers.get('retry-after')).toBeNull();
  });

  it('reports auth_failed for a refused token without reconnecting, and recovers when the source is updated', async () => {
    const created = await createStream('bad', 'seatable', {
      serverUrl: seatable.url,
      apiToken: 'wrong-token',
    });
    const id = created.body.id;
    await eventually(async () => expect((await statusOf(id)).state).toBe('auth_failed'));
    expect((await statusOf(id)).lastError).toEqual(expect.any(String));
    const requests = seatable.counters.tokenRequests;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(seatable.counters.tokenRequests).toBe(requests);
    await eventually(async () => expect(await typesOf(id)).toEqual(['herald.source.failed']));
    // Started again later (HERALD_STREAM_AUTH_RETRY, 300 s here), and at once for a new config.
    expect((await eventsOf(id))[0]!.data).toMatchObject({ retrying: true, retryInSeconds: 300 });

    await admin('PATCH', `/v1/sources/${id}`, {
      body: { config: { serverUrl: seatable.url, apiToken: 'good-api-token' } },
    });
    await eventually(async () => expect((await statusOf(id)).state).toBe('connected'));
    // The log says it recovered, not only that it failed.
    await eventually(() =>
      expect(logs.lines.filter((line) => line.sourceId === id).map((line) => [line.level, line.msg])).toEqual(
        expect.arrayContaining([[30, 'stream source connected']]),
      ),
    );
    await admin('DELETE', `/v1/sources/${id}`);
  });

  it('starts an auth-failed stream again after a wait that doubles, reporting the refusals once', async () => {
    const retrying = await startTestApp({ HERALD_STREAM_AUTH_RETRY: '1' });
    const api = apiClient(retrying.baseUrl, retrying.adminToken);
    const refusedBefore = seatable.counters.unknownApiTokens;
    try {
      const created = await api('POST', '/v1/sources', {
        body: {
          name: 'refused for a while',
          provider: 'seatable',
          mode: 'stream',
          config: { serverUrl: seatable.url, apiToken: 'late-api-token' },
        },
      });
      const id: string = created.body.id;
      const status = async () => (await api('GET', `/v1/sources/${id}/status`)).body;
      // Refused at once and after 1 s; the next start comes 2 s later.
      await eventually(
        async () => expect(seatable.counters.unknownApiTokens - refusedBefore).toBe(2),
        10_000,
      );
      expect((await status()).state).toBe('auth_failed');
      seatable.apiTokens.add('late-api-token');
      await eventually(async () => expect((await status()).state).toBe('connected'), 10_000);
      expect(seatable.counters.unknownApiTokens - refusedBefore).toBe(2);
      expect((await status()).reconnects).toBe(2);
      const events = (await api('GET', `/v1/events?source=${id}`)).body.data;
      expect(events.map((e: { type: string }) => e.type)).toEqual([
        'herald.source.failed',
        'herald.source.connected',
      ]);
      expect(events[0].data).toMatchObject({ retrying: true, retryInSeconds: 1 });
    } finally {
      seatable.apiTokens.delete('late-api-token');
      await retrying.close();
    }
  });

  it('reports a source that cannot connect from the start, once, while it keeps retrying', async () => {
    // A port nothing listens on: taken, then released.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const id = (
      await createStream('unreachable', 'jellyfish', {
        serverUrl: `http://127.0.0.1:${port}`,
        serverApiToken: 'server-token',
      })
    ).body.id;
    await eventually(async () => expect((await statusOf(id)).reconnects).toBeGreaterThanOrEqual(2), 10_000);
    const events = await eventsOf(id);
    expect(events).toEqual([
      expect.objectContaining({
        type: 'herald.source.failed',
        subject: `sources/${id}`,
        data: expect.objectContaining({ reason: expect.stringContaining('ECONNREFUSED'), retrying: true }),
      }),
    ]);
    // Once, from the gateway, whatever the adapter logs of each attempt.
    expect(logs.lines.filter((line) => line.sourceId === id && line.context === 'StreamSupervisor')).toEqual([
      expect.objectContaining({ msg: 'stream source cannot connect', state: 'backoff' }),
    ]);
    await admin('DELETE', `/v1/sources/${id}`);
  });

  it('holds a Jellyfish server socket, reconnects after an abrupt drop, and stops when deleted', async () => {
    const created = await createStream('media', 'jellyfish', {
      serverUrl: jellyfish.url,
      serverApiToken: 'server-token',
    });
    const id = created.body.id;
    await eventually(async () => expect((await statusOf(id)).state).toBe('connected'));
    jellyfish.pushNotification({ case: 'peerConnected', value: { roomId: 'r1', peerId: 'p1' } });
    await eventually(async () => expect(await typesOf(id)).toContain('jellyfish.peer.connected'));

    jellyfish.dropAll();
    await eventually(async () => expect(await typesOf(id)).toContain('herald.source.disconnected'), 15_000);
    await eventually(async () => expect((await statusOf(id)).reconnects).toBeGreaterThanOrEqual(1), 15_000);
    await eventually(async () => expect((await statusOf(id)).state).toBe('connected'), 15_000);
    const disconnected = (await eventsOf(id)).find((e) => e.type === 'herald.source.disconnected')!;
    expect(disconnected.data).toMatchObject({ mayHaveMissedEvents: true, sourceId: id });
    // Logged with the source named once: strict JSON readers refuse a key repeated.
    const logged = logs.text.filter((line) => line.includes('jellyfish stream disconnected'));
    expect(logged.length).toBeGreaterThan(0);
    for (const line of logged) expect(line.split('"sourceId"')).toHaveLength(2);
    jellyfish.pushNotification(encodeServerMessage({ case: 'roomDeleted', value: { roomId: 'r1' } }));
    await eventually(async () => expect(await typesOf(id)).toContain('jellyfish.room.deleted'));

    // A rename leaves the provider connection alone (Jellyfish keeps no replay of what a reconnect misses).
    const connections = jellyfish.counters.connections;
    const { connectedSince } = await statusOf(id);
    expect((await admin('PATCH', `/v1/sources/${id}`, { body: { name: 'media-renamed' } })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(jellyfish.counters.connections).toBe(connections);
    expect((await statusOf(id)).connectedSince).toBe(connectedSince);

    expect((await admin('DELETE', `/v1/sources/${id}`)).status).toBe(204);
    await eventually(() => expect(jellyfish.openSockets).toBe(0));
  });

  it('takes a config PATCH of a source stored before its server URL was normalized, without asking for the token', async () => {
    const created = await createStream('older', 'jellyfish', {
      serverUrl: jellyfish.url,
      serverApiToken: 'server-token',
    });
    const id = created.body.id;
    // As an earlier build stored it: as written, in capitals, with a trailing slash.
    const db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    const spelled = `${jellyfish.url.replace('http://', 'HTTP://')}/`;
    await db.query(
      `UPDATE sources SET config = jsonb_set(config, '{serverUrl}', to_jsonb($2::text)) WHERE id = $1`,
      [id, spelled],
    );
    await db.end();
    const patched = await admin('PATCH', `/v1/sources/${id}`, { body: { config: { metrics: false } } });
    expect(patched.status).toBe(200);
    await admin('DELETE', `/v1/sources/${id}`);
  });

  it('stores the disconnected event after every notification received before the socket closed', async () => {
    const created = await createStream('ordered', 'jellyfish', {
      serverUrl: jellyfish.url,
      serverApiToken: 'server-token',
    });
    const id = created.body.id;
    await eventually(async () => expect((await statusOf(id)).state).toBe('connected'));
    // A room deleted with its peers: one burst, then the server goes away.
    for (let i = 0; i < 100; i++) {
      jellyfish.pushNotification({ case: 'peerDisconnected', value: { roomId: 'gone', peerId: `p${i}` } });
    }
    jellyfish.closeAll(1001, 'going away');
    await eventually(async () => expect(await typesOf(id)).toContain('herald.source.disconnected'), 15_000);
    const types = await typesOf(id);
    expect(types.filter((type) => type === 'jellyfish.peer.disconnected')).toHaveLength(100);
    expect(types.indexOf('herald.source.disconnected')).toBeGreaterThan(
      types.lastIndexOf('jellyfish.peer.disconnected'),
    );
    await admin('DELETE', `/v1/sources/${id}`);
  });

  it('says on the first connection after a stop that events may have been missed meanwhile', async () => {
    const created = await createStream('paused media', 'jellyfish', {
      serverUrl: jellyfish.url,
      serverApiToken: 'server-token',
    });
    const id = created.body.id;
    await eventually(async () => expect((await statusOf(id)).state).toBe('connected'));
    await admin('PATCH', `/v1/sources/${id}`, { body: { enabled: false } });
    await eventually(async () => expect((await statusOf(id)).state).toBe('stopped'));
    await admin('PATCH', `/v1/sources/${id}`, { body: { enabled: true } });
    await eventually(async () =>
      expect((await eventsOf(id)).filter((e) => e.type === 'herald.source.connected')).toHaveLength(2),
    );
    const connected = (await eventsOf(id)).filter((e) => e.type === 'herald.source.connected');
    // The first run followed none; the second began after the first had ended, with nobody listening.
    expect(connected.map((e) => [e.data.resumed, e.data.mayHaveMissedEvents])).toEqual([
      [false, false],
      [true, true],
    ]);
    await admin('DELETE', `/v1/sources/${id}`);
  });

  it('stamps stream events with their arrival time, not the commit time, when the store holds them up', async () => {
    const media = (
      await createStream('held media', 'jellyfish', {
        serverUrl: jellyfish.url,
        serverApiToken: 'server-token',
      })
    ).body.id;
    const base = (
      await createStream('held base', 'seatable', { serverUrl: seatable.url, apiToken: 'good-api-token' })
    ).body.id;
    await eventually(async () => {
      expect(await typesOf(media)).toEqual(['herald.source.connected']);
      expect(await typesOf(base)).toEqual(['herald.source.connected']);
    });
    // The writer takes this lock for every write: holding it holds the store, as an outage would.
    const holder = new pg.Client({ connectionString: herald.databaseUrl });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [AdvisoryLock.eventWriter]);
    const arrived = Date.now();
    // Two frames each: the second waits in the stream's queue for the first one's commit.
    for (const roomId of ['held1', 'held2'])
      jellyfish.pushNotification({ case: 'roomCreated', value: { roomId } });
    for (const rowId of ['held1', 'held2'])
      seatable.broadcastOp({ op_type: 'delete_row', table_id: '0000', row_id: rowId });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const released = Date.now();
    await holder.end();

    const held = await eventually(async () => {
      const events = [...(await eventsOf(media)), ...(await eventsOf(base))].filter(
        (e) => !e.type.startsWith('herald.'),
      );
      expect(events).toHaveLength(4);
      return events;
    });
    for (const event of held) {
      expect(Date.parse(event.receivedat)).toBeGreaterThanOrEqual(arrived - 5);
      expect(Date.parse(event.receivedat)).toBeLessThan(released - 1_000);
    }
    // Jellyfish sends no time of its own: the event's time is its arrival too.
    for (const event of held.filter((e) => e.type.startsWith('jellyfish.')))
      expect(event.time).toBe(event.receivedat);
    await Promise.all([media, base].map((id) => admin('DELETE', `/v1/sources/${id}`)));
  });

  it('keeps the last error in the status while reconnecting, and clears it once connected', async () => {
    seatable.joinFailure = { errorType: 'internal_error', times: 1 };
    const id = (
      await createStream('flaky base', 'seatable', { serverUrl: seatable.url, apiToken: 'good-api-token' })
    ).body.id;
    try {
      await eventually(async () => expect((await statusOf(id)).state).toBe('backoff'));
      // The next attempt's join goes unanswered, so it stays connecting while the status is read.
      seatable.answerJoins = false;
      await eventually(async () => expect((await statusOf(id)).state).toBe('connecting'));
      expect((await statusOf(id)).lastError).toMatch(/join-room refused: internal_error/);
    } finally {
      seatable.answerJoins = true;
    }
    seatable.disconnectAll();
    await eventually(async () =>
      expect(await statusOf(id)).toMatchObject({ state: 'connected', lastError: null }),
    );
    await admin('DELETE', `/v1/sources/${id}`);
  });

  it('stores the ops of a SeaTable base restored to an older version, whose versions count again', async () => {
    const id = await connectedSeatable('restored base');
    const before = await rowDeleted(id, 'before');
    seatable.restoreVersion(before - 1);
    const after = seatable.broadcastOp({ op_type: 'delete_row', table_id: '0000', row_id: 'after' });
    expect(after).toBe(before);
    await eventually(async () =>
      expect(
        (await eventsOf(id)).filter((e) => e.type === 'seatable.row.deleted').map((e) => e.subject),
      ).toEqual(['tables/0000/rows/before', 'tables/0000/rows/after']),
    );
    await admin('DELETE', `/v1/sources/${id}`);
  });

  it('reports the SeaTable ops missed while the gateway was down, from the versions it stored', async () => {
    const id = await connectedSeatable('restarted base');
    const stored = await rowDeleted(id, 'r9');

    const token = herald.adminToken;
    const restart = async () => {
      await herald.close();
      herald = await startTestApp({ HERALD_ADMIN_TOKEN: token }, herald.databaseUrl);
      admin = apiClient(herald.baseUrl, token);
      await eventually(async () => expect((await statusOf(id)).state).toBe('connected'));
    };
    seatable.advanceVersion(4);
    await restart();
    await eventually(async () => expect(await typesOf(id)).toContain('herald.source.gap'));
    // Nothing happened since: a second restart finds the same gap, which is stored once.
    await restart();
    await eventually(async () =>
      expect((await typesOf(id)).filter((type) => type === 'herald.source.connected')).toHaveLength(3),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await eventually(async () =>
      expect((await eventsOf(id)).filter((e) => e.type === 'herald.source.gap')).toEqual([
        expect.objectContaining({
          data: expect.objectContaining({
            fromVersion: stored,
            toVersion: stored + 4,
            missing: 4,
            reason: 'resume',
          }),
        }),
      ]),
    );
  });
});
