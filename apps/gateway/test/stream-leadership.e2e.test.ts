import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeJellyfishServer } from '@herald/jellyfish/testing';
import pg from 'pg';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';
import { apiClient, eventually } from './support/http.js';
import { createTestDatabase } from './support/test-database.js';

/** Contract §8: each stream source is held by exactly one of several instances, and taken over when it dies. */
describe('stream-source leadership across three gateway processes', () => {
  let jellyfish: FakeJellyfishServer;
  let gateways: GatewayProcess[];
  let databaseUrl: string;
  const adminToken = 'leadership-admin-token-0123456789';

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    jellyfish = await FakeJellyfishServer.start({ validTokens: ['server-token'] });
    const env = { DATABASE_URL: databaseUrl, HERALD_ADMIN_TOKEN: adminToken, LOG_LEVEL: 'warn' };
    // The first start runs the migrations; the other two start together against the migrated schema.
    gateways = [await startGatewayProcess(env)];
    gateways.push(...(await Promise.all([startGatewayProcess(env), startGatewayProcess(env)])));
  });
  afterAll(async () => {
    for (const gateway of gateways) if (gateway.child.exitCode === null) gateway.child.kill('SIGTERM');
    await Promise.all(gateways.map((g) => g.exited));
    await jellyfish.close();
  });

  it('runs the source on exactly one instance and moves it within 10 s when that instance is killed', async () => {
    const admin = apiClient(gateways[0]!.baseUrl, adminToken);
    const created = await admin('POST', '/v1/sources', {
      body: {
        name: 'media',
        provider: 'jellyfish',
        mode: 'stream',
        config: { serverUrl: jellyfish.url, serverApiToken: 'server-token' },
      },
    });
    const status = async (via = gateways[0]!) =>
      (await apiClient(via.baseUrl, adminToken)('GET', `/v1/sources/${created.body.id}/status`)).body;
    const first = await eventually(async () => {
      const s = await status();
      expect(s.state).toBe('connected');
      return s;
    }, 20_000);
    // Two reconcile rounds later, still one connection: nobody else took the source.
    await new Promise((resolve) => setTimeout(resolve, 7_000));
    expect(jellyfish.openSockets).toBe(1);
    expect(jellyfish.counters.connections).toBe(1);

    const instances = await Promise.all(
      gateways.map(
        async (g) => ((await apiClient(g.baseUrl)('GET', '/healthz')).body as { instance: string }).instance,
      ),
    );
    const holder = gateways[instances.indexOf(first.heldBy)]!;
    expect(holder).toBeDefined();
    const survivor = gateways.find((g) => g !== holder)!;
    const killedAt = Date.now();
    holder.child.kill('SIGKILL');
    await holder.exited;

    const taken = await eventually(
      async () => {
        const s = await status(survivor);
        expect(s.state).toBe('connected');
        expect(s.heldBy).not.toBe(first.heldBy);
        return s;
      },
      15_000,
      100,
    );
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(instances).toContain(taken.heldBy);
    await eventually(() => expect(jellyfish.openSockets).toBe(1));
    expect(jellyfish.counters.connections).toBe(2);
  });

  it('tells the other instances when a holder lets a source go, and names no holder of a stopped one', async () => {
    const alive = gateways.filter((g) => g.child.exitCode === null && g.child.signalCode === null);
    const admin = apiClient(alive[0]!.baseUrl, adminToken);
    const [source] = (await admin('GET', '/v1/sources')).body.data;
    const instances = await Promise.all(
      alive.map(
        async (g) => ((await apiClient(g.baseUrl)('GET', '/healthz')).body as { instance: string }).instance,
      ),
    );
    const { heldBy } = (await admin('GET', `/v1/sources/${source.id}/status`)).body;
    const holder = alive[instances.indexOf(heldBy)]!;
    const survivor = alive.find((g) => g !== holder)!;
    const listener = new pg.Client({ connectionString: databaseUrl });
    await listener.connect();
    try {
      const released = new Promise<string>((resolve) =>
        listener.on('notification', (message) => resolve(message.payload ?? '')),
      );
      await listener.query('LISTEN herald_source_changes');
      holder.child.kill('SIGTERM');
      // Announced as the lock goes, so the survivor need not wait for its next reconcile round.
      expect(await released).toBe('');
      await holder.exited;
      const moved = apiClient(survivor.baseUrl, adminToken);
      await eventually(async () => {
        const s = (await moved('GET', `/v1/sources/${source.id}/status`)).body;
        expect(s.state).toBe('connected');
        expect(s.heldBy).not.toBe(heldBy);
      }, 15_000);

      expect((await moved('PATCH', `/v1/sources/${source.id}`, { body: { enabled: false } })).status).toBe(
        200,
      );
      const stopped = (await moved('GET', `/v1/sources/${source.id}/status`)).body;
      expect(stopped).toMatchObject({ state: 'stopped', heldBy: null });
    } finally {
      await listener.end();
    }
  });
});
