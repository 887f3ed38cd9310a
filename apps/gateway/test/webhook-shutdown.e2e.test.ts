import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import pg from 'pg';
import { PER_ENDPOINT_CONCURRENCY } from '../src/endpoints/deliveries/delivery-worker.service.js';
import { DeliveryRepository } from '../src/endpoints/deliveries/delivery.repository.js';
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

describe('webhook delivery on graceful shutdown, with a backlog', () => {
  it('releases, unsent and uncounted, the claimed deliveries still waiting for a request slot', async () => {
    const receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 700 }));
    const herald = await startTestApp();
    const db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    try {
      const admin = apiClient(herald.baseUrl, herald.adminToken);
      const endpoint = (await admin('POST', '/v1/endpoints', { body: { url: receiver.url } })).body;
      const backlog = PER_ENDPOINT_CONCURRENCY + 4;
      for (let n = 0; n < backlog; n++) await admin('POST', '/v1/events', { body: { type: 'bye.all' } });
      await eventually(() => receiver.received.length === PER_ENDPOINT_CONCURRENCY);

      await herald.close();

      const { rows } = await db.query(
        `SELECT d.status, d.attempt_count, d.locked_by, count(a.id)::int AS attempts
         FROM deliveries d LEFT JOIN delivery_attempts a ON a.delivery_id = d.id
         WHERE d.endpoint_id = $1 GROUP BY d.id ORDER BY d.status`,
        [endpoint.id],
      );
      expect(receiver.received).toHaveLength(PER_ENDPOINT_CONCURRENCY);
      const delivered = { status: 'delivered', attempt_count: 1, locked_by: null, attempts: 1 };
      const released = { status: 'pending', attempt_count: 0, locked_by: null, attempts: 0 };
      expect(rows).toEqual([
        ...Array<typeof delivered>(PER_ENDPOINT_CONCURRENCY).fill(delivered),
        ...Array<typeof released>(4).fill(released),
      ]);
    } finally {
      await db.end();
      await receiver.close();
    }
  });
});

describe('webhook delivery on graceful shutdown, with a claim in flight', () => {
  it('waits for the claim and releases what it leased, unsent', async () => {
    const receiver = await startWebhookReceiver();
    const herald = await startTestApp();
    const db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    try {
      const admin = apiClient(herald.baseUrl, herald.adminToken);
      const endpoint = (await admin('POST', '/v1/endpoints', { body: { url: receiver.url } })).body;
      // The claim that leases the new delivery answers only once shutdown has begun.
      const repository = herald.app.get(DeliveryRepository);
      const claim = repository.claim.bind(repository);
      let leased!: () => void;
      const claimLeased = new Promise<void>((resolve) => (leased = resolve));
      let resume!: () => void;
      const shutdownBegun = new Promise<void>((resolve) => (resume = resolve));
      jest.spyOn(repository, 'claim').mockImplementation(async (...args) => {
        const result = await claim(...args);
        if (result.deliveries.length > 0) {
          leased();
          await shutdownBegun;
        }
        return result;
      });
      await admin('POST', '/v1/events', { body: { type: 'late.claim' } });
      await claimLeased;

      const closed = herald.close();
      setTimeout(resume, 200);
      await closed;

      const { rows } = await db.query(
        `SELECT status, attempt_count, locked_by FROM deliveries WHERE endpoint_id = $1`,
        [endpoint.id],
      );
      expect(rows).toEqual([{ status: 'pending', attempt_count: 0, locked_by: null }]);
      expect(receiver.received).toHaveLength(0);
    } finally {
      jest.restoreAllMocks();
      await db.end();
      await receiver.close();
    }
  });
});
