import { describe, expect, it, jest } from '@jest/globals';
import pg from 'pg';
import { PER_ENDPOINT_CONCURRENCY } from '../src/endpoints/deliveries/delivery-worker.service.js';
import { hookClaims } from './support/claim-hook.js';
import { apiClient, eventually } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { type Responder, startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

interface Shutdown {
  herald: TestApp;
  receiver: WebhookReceiver;
  admin: ReturnType<typeof apiClient>;
  /** An endpoint for the receiver. */
  endpointId: string;
  /** The endpoint's deliveries once the gateway has closed, ordered by status. */
  deliveries: () => Promise<unknown[]>;
  db: pg.Client;
}

/** A gateway with one endpoint at a fresh receiver; each test closes the gateway itself. */
async function withGateway(responder: Responder, test: (shutdown: Shutdown) => Promise<void>) {
  const receiver = await startWebhookReceiver(responder);
  const herald = await startTestApp();
  const db = new pg.Client({ connectionString: herald.databaseUrl });
  await db.connect();
  try {
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    const endpointId = (await admin('POST', '/v1/endpoints', { body: { url: receiver.url } })).body.id;
    const deliveries = async () =>
      (
        await db.query(
          `SELECT d.status, d.attempt_count, d.locked_by, count(a.id)::int AS attempts
           FROM deliveries d LEFT JOIN delivery_attempts a ON a.delivery_id = d.id
           WHERE d.endpoint_id = $1 GROUP BY d.id ORDER BY d.status`,
          [endpointId],
        )
      ).rows;
    await test({ herald, receiver, admin, endpointId, deliveries, db });
  } finally {
    jest.restoreAllMocks();
    await db.end();
    await receiver.close();
  }
}

const delivered = { status: 'delivered', attempt_count: 1, locked_by: null, attempts: 1 };
const released = { status: 'pending', attempt_count: 0, locked_by: null, attempts: 0 };

describe('webhook delivery on graceful shutdown', () => {
  it('stops claiming, lets the running attempt finish and records it', () =>
    withGateway(
      () => ({ status: 200, delayMs: 700 }),
      async ({ herald, receiver, admin, deliveries }) => {
        await admin('POST', '/v1/events', { body: { type: 'bye.now' } });
        await eventually(() => receiver.received.length === 1);

        await herald.close();

        expect(await deliveries()).toEqual([delivered]);
      },
    ));

  it('lets an attempt run as long as an attempt may, renewing its lease, so no instance resends it', () =>
    withGateway(
      // Longer than the grace was (10 s): cancelled then, and sent again by the instance that took it.
      () => ({ status: 200, delayMs: 11_000 }),
      async ({ herald, receiver, admin, deliveries, db }) => {
        await admin('POST', '/v1/events', { body: { type: 'slow.goodbye' } });
        await eventually(() => receiver.received.length === 1);
        const closing = (await db.query<{ at: Date }>('SELECT clock_timestamp() AS at')).rows[0]!.at;

        const closed = herald.close();
        // A lease renewed before the close ends at most LEASE_SECONDS (10 s) after it; only a heartbeat
        // during the grace takes it further (the heartbeat runs every 3 s, the answer comes after 11 s).
        await eventually(
          async () =>
            (
              await db.query(
                `SELECT 1 FROM deliveries WHERE status = 'delivering'
                 AND locked_until > $1::timestamptz + interval '10 seconds'`,
                [closing],
              )
            ).rowCount === 1,
          5_000,
          100,
        );
        await closed;

        expect(receiver.received).toHaveLength(1);
        expect(await deliveries()).toEqual([delivered]);
      },
    ));

  it('releases, unsent and uncounted, the claimed deliveries still waiting for a request slot', () =>
    withGateway(
      () => ({ status: 200, delayMs: 700 }),
      async ({ herald, receiver, admin, deliveries }) => {
        const backlog = PER_ENDPOINT_CONCURRENCY + 4;
        for (let n = 0; n < backlog; n++) await admin('POST', '/v1/events', { body: { type: 'bye.all' } });
        await eventually(() => receiver.received.length === PER_ENDPOINT_CONCURRENCY);

        await herald.close();

        expect(receiver.received).toHaveLength(PER_ENDPOINT_CONCURRENCY);
        expect(await deliveries()).toEqual([
          ...Array<typeof delivered>(PER_ENDPOINT_CONCURRENCY).fill(delivered),
          ...Array<typeof released>(4).fill(released),
        ]);
      },
    ));

  it('releases, unsent and uncounted, the deliveries waiting for their turn under a rate limit', () =>
    withGateway(
      () => ({ status: 204 }),
      async ({ herald, receiver, admin, endpointId, deliveries }) => {
        await admin('PATCH', `/v1/endpoints/${endpointId}`, { body: { rateLimit: 1 } });
        for (let n = 0; n < 5; n++) await admin('POST', '/v1/events', { body: { type: 'bye.slowly' } });
        await eventually(() => receiver.received.length === 1);

        const started = Date.now();
        await herald.close();

        // The others waited up to 4 s for their turns; shutdown did not wait for them.
        expect(Date.now() - started).toBeLessThan(2_000);
        expect(receiver.received).toHaveLength(1);
        expect(await deliveries()).toEqual([delivered, ...Array<typeof released>(4).fill(released)]);
      },
    ));

  it('waits for a claim in flight and releases what it leased, unsent', () =>
    withGateway(
      () => ({ status: 204 }),
      async ({ herald, receiver, admin, deliveries }) => {
        // The claim that leases the new delivery answers once the gateway has closed, or after a second
        // if closing waits for it: answered after the close, its release finds no database.
        let leased!: () => void;
        const claimLeased = new Promise<void>((resolve) => (leased = resolve));
        let answer!: () => void;
        const answered = new Promise<void>((resolve) => (answer = resolve));
        await hookClaims(herald.app, async (claim) => {
          if (claim.deliveries.length > 0) {
            leased();
            await answered;
          }
        });
        await admin('POST', '/v1/events', { body: { type: 'late.claim' } });
        await claimLeased;

        const closed = herald.close();
        void Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000))]).then(answer);
        await closed;

        expect(await deliveries()).toEqual([released]);
        expect(receiver.received).toHaveLength(0);
      },
    ));
});
