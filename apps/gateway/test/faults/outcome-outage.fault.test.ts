import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apiClient, eventually } from '../support/http.js';
import { type RestartablePostgres, startRestartablePostgres } from '../support/restartable-postgres.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const EVENTS = 5;

/**
 * A Postgres restart while webhook attempts are in flight: their answers come while it is down, and
 * their outcomes are written once it is back instead of being dropped, which left the leases to lapse
 * and every one of those deliveries to be sent again.
 */
describe('webhook outcomes across a short Postgres restart', () => {
  let database: RestartablePostgres;
  let herald: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    database = await startRestartablePostgres('outcome-outage');
    herald = await startTestApp({}, database.url);
    receiver = await startWebhookReceiver(() => ({ status: 204, delayMs: 1_000 }));
  });
  afterAll(async () => {
    await herald.close();
    await receiver.close();
    await database.remove();
  });

  it('records the attempts answered while Postgres was down once it is back, and sends none twice', async () => {
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    const endpoint = (
      await admin('POST', '/v1/endpoints', {
        body: { url: receiver.url, filter: { types: ['restart.hook'] } },
      })
    ).body;
    for (let i = 0; i < EVENTS; i++) {
      expect((await admin('POST', '/v1/events', { body: { type: 'restart.hook' } })).status).toBe(201);
    }
    await eventually(() => receiver.received.length === EVENTS);

    await database.stop();
    // The answers come a second after the requests, while Postgres is down; it is back well before the
    // leases (10 s from their last renewal, at most 3 s before the stop) would lapse.
    await sleep(1_500);
    await database.start();

    await eventually(
      async () => {
        const page = await admin('GET', `/v1/endpoints/${endpoint.id}/deliveries?status=delivered`);
        expect(page.body.data).toHaveLength(EVENTS);
      },
      30_000,
      200,
    );
    expect(receiver.received.map((webhook) => webhook.headers['webhook-id'])).toHaveLength(EVENTS);
  });
});
