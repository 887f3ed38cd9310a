import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type HeraldEvent } from '@herald/client';
import { FakeJellyfishServer, ServerMessage_EventType } from '@herald/jellyfish/testing';
import { apiClient, eventually, listAllEventIds } from '../support/http.js';
import { type RestartablePostgres, startRestartablePostgres } from '../support/restartable-postgres.js';
import { capturedLogs, startTestApp, type TestApp } from '../support/test-app.js';

const OUTAGE_MS = 10_000;

/**
 * Postgres stopped for 10 s under load: ingest answers 503 with Retry-After, nothing acknowledged is lost,
 * and the gateway (HTTP, subscribers, stream sources) recovers without a restart.
 */
describe('Postgres outage under load', () => {
  let database: RestartablePostgres;
  let herald: TestApp;
  let jellyfish: FakeJellyfishServer;
  const logs = capturedLogs();

  beforeAll(async () => {
    database = await startRestartablePostgres('outage');
    jellyfish = await FakeJellyfishServer.start({ validTokens: ['server-token'] });
    herald = await startTestApp({}, database.url, 0, logs.logger);
  });
  afterAll(async () => {
    await herald.close();
    await jellyfish.close();
    await database.remove();
  });

  it('refuses with 503 + Retry-After while down, loses nothing acknowledged, and recovers by itself', async () => {
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    const source = (
      await admin('POST', '/v1/sources', {
        body: {
          name: 'media',
          provider: 'jellyfish',
          mode: 'stream',
          config: { serverUrl: jellyfish.url, serverApiToken: 'server-token' },
        },
      })
    ).body;
    await eventually(
      async () =>
        expect((await admin('GET', `/v1/sources/${source.id}/status`)).body.state).toBe('connected'),
      20_000,
    );

    const client = connect({ url: herald.baseUrl, token: herald.adminToken, reconnectionDelayMaxMs: 500 });
    const received: HeraldEvent[] = [];
    await client.subscribe({ types: ['outage.tick'] }, (event) => void received.push(event)).ready;

    const acknowledged: string[] = [];
    const statuses = new Map<number, number>();
    let retryAfterMissing = 0;
    let running = true;
    const workers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; running; i++) {
        const r = await admin('POST', '/v1/events', { body: { type: 'outage.tick', data: { w, i } } }).catch(
          () => undefined,
        );
        if (!r) continue;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 201) acknowledged.push(r.body.id);
        if (r.status === 503) {
          if (!r.headers.get('retry-after')) retryAfterMissing++;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    });

    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await database.stop();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
    const readiness = await apiClient(herald.baseUrl)('GET', '/readyz');
    expect(readiness.status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
    await database.start();
    const ackedBeforeRecovery = acknowledged.length;
    await eventually(
      () => expect(acknowledged.length).toBeGreaterThan(ackedBeforeRecovery + 50),
      30_000,
      100,
    );
    running = false;
    await Promise.all(workers);

    expect(statuses.get(503)).toBeGreaterThan(0);
    expect(retryAfterMissing).toBe(0);
    expect([...statuses.keys()].filter((s) => s !== 201 && s !== 503)).toEqual([]);
    expect((await apiClient(herald.baseUrl)('GET', '/readyz')).status).toBe(200);

    // Every acknowledged event is stored, and the subscriber got each exactly once, in seq order.
    const stored = await listAllEventIds(admin, 'type=outage.tick');
    for (const id of acknowledged) expect(stored.has(id)).toBe(true);
    await eventually(() => expect(received.length).toBe(stored.size), 20_000);
    expect(new Set(received.map((e) => e.id))).toEqual(stored);
    for (let i = 1; i < received.length; i++)
      expect(BigInt(received[i]!.seq) > BigInt(received[i - 1]!.seq)).toBe(true);
    client.close();

    // The stream source was released with the lost session, then taken and connected again.
    await eventually(
      () => {
        expect(jellyfish.counters.connections).toBeGreaterThanOrEqual(2);
        expect(jellyfish.subscribers(ServerMessage_EventType.SERVER_NOTIFICATION)).toBe(1);
      },
      30_000,
      200,
    );
    await eventually(async () =>
      expect((await admin('GET', `/v1/sources/${source.id}/status`)).body.state).toBe('connected'),
    );
    jellyfish.pushNotification({ case: 'roomCreated', value: { roomId: 'after-outage' } });
    await eventually(async () => {
      const events = (await admin('GET', `/v1/events?source=${source.id}&type=jellyfish.room.created`)).body
        .data;
      expect(events.map((e: any) => e.data.roomId)).toContain('after-outage');
    }, 20_000);

    // Each component retrying against the missing database says so once, not at every attempt.
    const outageLines = new Map<string, number>();
    for (const line of logs.lines) {
      const key = `${String(line.context)}: ${String(line.msg)}`;
      if (line.err) outageLines.set(key, (outageLines.get(key) ?? 0) + 1);
    }
    expect([...outageLines].filter(([, count]) => count > 1)).toEqual([]);
    // An outage is expected: nothing says it is a fault of Herald's (level 50 is error).
    const errors = logs.lines.filter((line) => Number(line.level) >= 50);
    expect(errors.map((line) => `${String(line.context)}: ${String(line.msg)}`)).toEqual([]);
  });
});
