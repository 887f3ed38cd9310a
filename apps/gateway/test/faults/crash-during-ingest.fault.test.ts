import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildSeatableWebhook } from '@herald/seatable/testing';
import { startGatewayProcess } from '../support/gateway-process.js';
import { apiClient, eventually, listAllEventIds } from '../support/http.js';
import { createTestDatabase } from '../support/test-database.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const ADMIN_TOKEN = 'fault-admin-token-0123456789abcdef';

/** kill -9 while ingest requests and deliveries are in flight: every 2xx-acked event survives and is delivered. */
describe('kill -9 during ingest and delivery', () => {
  let receiver: WebhookReceiver;
  let databaseUrl: string;

  beforeAll(async () => {
    receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 5 }));
    databaseUrl = await createTestDatabase();
  });
  afterAll(() => receiver.close());

  it('keeps every acknowledged event and delivers each at least once after a restart', async () => {
    const env = {
      DATABASE_URL: databaseUrl,
      HERALD_ADMIN_TOKEN: ADMIN_TOKEN,
      HERALD_ALLOW_PRIVATE_TARGETS: 'true',
      LOG_LEVEL: 'warn',
    };
    const first = await startGatewayProcess(env);
    const admin = apiClient(first.baseUrl, ADMIN_TOKEN);
    expect((await admin('POST', '/v1/endpoints', { body: { url: receiver.url } })).status).toBe(201);
    const source = (
      await admin('POST', '/v1/sources', { body: { name: 'crm', provider: 'seatable', mode: 'webhook' } })
    ).body;

    const acked: string[] = [];
    let refused = 0;
    let running = true;
    const publishers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; running; i++) {
        try {
          if (w % 2 === 0) {
            const r = await admin('POST', '/v1/events', { body: { type: 'fault.tick', data: { w, i } } });
            if (r.status === 201) acked.push(r.body.id);
          } else {
            const webhook = buildSeatableWebhook({
              dtable_uuid: 'fae0a3a42ba94df88e8303fd385e37de',
              row_id: `w${w}r${i}`,
              op_user: 'u',
              op_type: 'insert_row',
              op_time: 1_700_000_000 + i,
              table_id: '0000',
              table_name: 'T',
              row_name: 'x',
              row_data: [],
              op_app: null,
            });
            const r = await apiClient('')('POST', source.ingestUrl, {
              rawBody: webhook.body,
              headers: webhook.headers,
            });
            if (r.status === 202) acked.push(...r.body.ids);
          }
        } catch {
          // The process is gone: these requests were never acknowledged.
          refused++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    });
    await eventually(() => acked.length >= 1_500 && receiver.received.length >= 200, 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    await new Promise((resolve) => setTimeout(resolve, 300));
    running = false;
    await Promise.all(publishers);
    expect(refused).toBeGreaterThan(0);

    const second = await startGatewayProcess(env);
    try {
      const reader = apiClient(second.baseUrl, ADMIN_TOKEN);
      const stored = await listAllEventIds(reader);
      const lost = acked.filter((id) => !stored.has(id));
      expect(lost).toEqual([]);
      await eventually(
        () => {
          const delivered = new Set(receiver.received.map((r) => String(r.headers['webhook-id'])));
          expect(acked.filter((id) => !delivered.has(id))).toEqual([]);
        },
        60_000,
        200,
      );
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
