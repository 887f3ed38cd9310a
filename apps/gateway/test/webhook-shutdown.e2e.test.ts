import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { apiClient, eventually } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

describe('webhook delivery on graceful shutdown', () => {
  let receiver: WebhookReceiver;
  let herald: TestApp;
  let db: pg.Client;

  beforeAll(async () => {
    receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 700 }));
    herald = await startTestApp();
    db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await receiver.close();
  });

  it('stops claiming, lets the running attempt finish and records it', async () => {
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    await admin('POST', '/v1/endpoints', { body: { url: receiver.url } });
    const event = (await admin('POST', '/v1/events', { body: { type: 'bye.now' } })).body;
    await eventually(() => receiver.received.length === 1);

    await herald.close();

    const { rows } = await db.query(
      `SELECT d.status, d.locked_by, count(a.id)::int AS attempts
       FROM deliveries d LEFT JOIN delivery_attempts a ON a.delivery_id = d.id
       WHERE d.event_id = $1 GROUP BY d.id`,
      [event.id],
    );
    expect(rows).toEqual([{ status: 'delivered', locked_by: null, attempts: 1 }]);
  });
});
