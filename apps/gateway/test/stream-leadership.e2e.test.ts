import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeJellyfishServer } from '@herald/jellyfish/testing';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';
import { apiClient, eventually } from './support/http.js';
import { createTestDatabase } from './support/test-database.js';

/** Contract §8: each stream source is held by exactly one of several instances, and taken over when it dies. */
describe('stream-source leadership across three gateway processes', () => {
  let jellyfish: FakeJellyfishServer;
  let gateways: GatewayProcess[];
  const adminToken = 'leadership-admin-token-0123456789';

  beforeAll(async () => {
    const databaseUrl = await createTestDatabase();
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
});
