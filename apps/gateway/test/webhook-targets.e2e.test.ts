import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, request } from 'undici';
import { guardedConnector, TargetRefusedError } from '../src/endpoints/targets/guarded-connector.js';
import { apiClient, eventually } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

/** Private targets, as registered while HERALD_ALLOW_PRIVATE_TARGETS was on. Port 9 (discard): never reached. */
const LITERAL_TARGETS = [
  'http://127.0.0.1:9/hook',
  'http://10.0.0.1:9/hook',
  'http://169.254.169.254/latest/meta-data',
  'http://[::1]:9/hook',
  'http://[::ffff:10.0.0.1]:9/hook',
];

describe('webhook targets (SSRF guard)', () => {
  let receiver: WebhookReceiver;
  let databaseUrl: string;
  let endpointIds: string[];
  let guarded: TestApp;
  let admin: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    // Endpoints registered while private targets were allowed, then Herald restarted with them refused:
    // the connect-time check is what stops them.
    const permissive = await startTestApp({ HERALD_ALLOW_PRIVATE_TARGETS: 'true' });
    databaseUrl = permissive.databaseUrl;
    const setup = apiClient(permissive.baseUrl, permissive.adminToken);
    endpointIds = [];
    for (const url of [...LITERAL_TARGETS, receiver.url.replace('127.0.0.1', 'localhost')]) {
      const created = await setup('POST', '/v1/endpoints', { body: { url, filter: { types: ['probe.*'] } } });
      expect(created.status).toBe(201);
      endpointIds.push(created.body.id);
    }
    await permissive.close();
    guarded = await startTestApp(
      { HERALD_ALLOW_PRIVATE_TARGETS: 'false', HERALD_ADMIN_TOKEN: permissive.adminToken },
      databaseUrl,
    );
    admin = apiClient(guarded.baseUrl, permissive.adminToken);
  });
  afterAll(async () => {
    await guarded.close();
    await receiver.close();
  });

  it('refuses private, loopback and link-local targets at connect time, before any connection', async () => {
    const published = await admin('POST', '/v1/events', { body: { type: 'probe.ping' } });
    expect(published.status).toBe(201);
    for (const id of endpointIds) {
      const [delivery] = await eventually(async () => {
        const listed = await admin('GET', `/v1/endpoints/${id}/deliveries`);
        const data = listed.body.data;
        return data.length > 0 && data[0].attemptCount > 0 ? data : false;
      });
      const detail = (await admin('GET', `/v1/deliveries/${delivery.id}`)).body;
      expect(detail.attempts[0]).toMatchObject({ responseStatus: null });
      expect(detail.attempts[0].error).toMatch(/refused to connect to .* private, loopback or link-local/);
      expect(detail.attempts[0].durationMs).toBeLessThan(1_000);
    }
    // "localhost" resolved to loopback and was refused: the receiver never saw a connection.
    expect(receiver.connections()).toBe(0);
  });

  it('rejects the guarded connector before connecting, for names and literals alike', async () => {
    const agent = new Agent({ connect: guardedConnector(false, {}) });
    try {
      for (const url of [
        ...LITERAL_TARGETS,
        'http://localhost:9/',
        'http://[::]:9/',
        'http://100.64.0.1:9/',
      ]) {
        const started = performance.now();
        const error = await request(url, { dispatcher: agent, method: 'POST' }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(TargetRefusedError);
        expect(performance.now() - started).toBeLessThan(500);
      }
    } finally {
      await agent.close();
    }
  });

  it('connects to the vetted address when private targets are allowed', async () => {
    const agent = new Agent({ connect: guardedConnector(true, {}) });
    try {
      const response = await request(receiver.url.replace('127.0.0.1', 'localhost'), {
        dispatcher: agent,
        method: 'POST',
        body: '{}',
      });
      expect(response.statusCode).toBe(204);
      await response.body.dump();
      expect(receiver.received.at(-1)!.headers.host).toMatch(/^localhost:\d+$/);
    } finally {
      await agent.close();
    }
  });

  it('falls back to the next resolved address when one refuses the connection', async () => {
    const port = new URL(receiver.url).port;
    // Nothing listens on 127.0.0.2 (the receiver is bound to 127.0.0.1): that address refuses.
    const resolveTo = (addresses: string[]) => guardedConnector(true, {}, async () => addresses);
    const post = (agent: Agent) =>
      request(`http://hooks.example:${port}/hook`, { dispatcher: agent, method: 'POST', body: '{}' });
    const failover = new Agent({ connect: resolveTo(['127.0.0.2', '127.0.0.1']) });
    const deadOnly = new Agent({ connect: resolveTo(['127.0.0.2', '127.0.0.3']) });
    try {
      const before = receiver.connections();
      const response = await post(failover);
      expect(response.statusCode).toBe(204);
      await response.body.dump();
      expect(receiver.connections()).toBe(before + 1);
      expect(receiver.received.at(-1)!.headers.host).toBe(`hooks.example:${port}`);
      await expect(post(deadOnly)).rejects.toMatchObject({ code: 'ECONNREFUSED', address: '127.0.0.3' });
    } finally {
      await Promise.all([failover.close(), deadOnly.close()]);
    }
  });
});
