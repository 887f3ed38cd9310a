import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import {
  GLOBAL_CONCURRENCY,
  PER_ENDPOINT_CONCURRENCY,
} from '../src/endpoints/deliveries/delivery-worker.service.js';
import { ATTEMPT_TIMEOUT_MS } from '../src/endpoints/deliveries/webhook-sender.js';
import { apiClient, eventually, publishConcurrently } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

describe('outbound webhooks: endpoints whose receivers hang', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;
  let hanging: WebhookReceiver;
  let healthy: WebhookReceiver;

  beforeAll(async () => {
    herald = await startTestApp({});
    admin = apiClient(herald.baseUrl, herald.adminToken);
    // Never answers within an attempt's timeout.
    hanging = await startWebhookReceiver(() => ({ status: 200, delayMs: 10 * ATTEMPT_TIMEOUT_MS }));
    healthy = await startWebhookReceiver();
  });
  afterAll(async () => {
    await Promise.all([hanging.close(), healthy.close()]);
    await herald.close();
  });

  it('hold back no other endpoint’s deliveries, even once their backlogs fill the instance', async () => {
    // Four backlogs of 130: each is claimed 128 ahead of its 16 requests in flight, which fills the instance.
    const stuck: string[] = [];
    for (let i = 0; i < 4; i++) {
      const created = await admin('POST', '/v1/endpoints', {
        body: { url: hanging.url, filter: { types: ['stuck.*'] } },
      });
      stuck.push(created.body.id);
    }
    await publishConcurrently(admin, 'stuck.tick', 130);
    const db = herald.app.get(DataSource);
    await eventually(async () => {
      const [{ n }] = await db.query(
        `SELECT count(*)::int AS n FROM deliveries WHERE endpoint_id = ANY($1) AND status = 'delivering'`,
        [stuck],
      );
      return n === GLOBAL_CONCURRENCY;
    }, 15_000);
    await eventually(() => hanging.received.length === 4 * PER_ENDPOINT_CONCURRENCY);

    const endpoint = await admin('POST', '/v1/endpoints', {
      body: { url: healthy.url, filter: { types: ['healthy.*'] } },
    });
    expect(endpoint.status).toBe(201);
    const started = Date.now();
    const published = await publishConcurrently(admin, 'healthy.tick', 40);
    await eventually(() => healthy.received.length === published.length, 10_000);
    // Well before the first hung attempt times out, which is when the instance had room again.
    expect(Date.now() - started).toBeLessThan(ATTEMPT_TIMEOUT_MS / 3);
    // Nothing more went to the hung receiver meanwhile: the overflow is only for free slots.
    expect(hanging.received).toHaveLength(4 * PER_ENDPOINT_CONCURRENCY);

    for (const id of stuck) expect((await admin('DELETE', `/v1/endpoints/${id}`)).status).toBe(204);
  }, 60_000);
});
