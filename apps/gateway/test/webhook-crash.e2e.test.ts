import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { startGatewayProcess } from './support/gateway-process.js';
import { apiClient, eventually } from './support/http.js';
import { createTestDatabase } from './support/test-database.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

const EVENTS = 2_000;
const ADMIN_TOKEN = 'crash-test-admin-token-0123456789';

/** Every fifth event is refused on its first arrival, so retries are in the mix too. */
function refusedFirst(id: string): boolean {
  return createHash('sha256').update(id).digest()[0]! % 5 === 0;
}

describe('webhook delivery across a crash (kill -9)', () => {
  let receiver: WebhookReceiver;
  let db: pg.Client;
  let databaseUrl: string;
  /** webhook-ids the receiver answered 2xx for. */
  const acknowledged = new Set<string>();
  const arrivals = new Map<string, number>();

  beforeAll(async () => {
    receiver = await startWebhookReceiver(({ headers }) => {
      const id = String(headers['webhook-id']);
      const seen = (arrivals.get(id) ?? 0) + 1;
      arrivals.set(id, seen);
      if (seen === 1 && refusedFirst(id)) return { status: 503, delayMs: 30 };
      acknowledged.add(id);
      return { status: 200, delayMs: 30 };
    });
    databaseUrl = await createTestDatabase();
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await receiver.close();
  });

  const count = async (where: string): Promise<number> =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries WHERE ${where}`)).rows[0]!.n;

  it('delivers every event at least once and marks delivered only what the receiver acknowledged', async () => {
    const env = {
      DATABASE_URL: databaseUrl,
      HERALD_ADMIN_TOKEN: ADMIN_TOKEN,
      HERALD_ALLOW_PRIVATE_TARGETS: 'true',
      HERALD_RETRY_SCHEDULE: '0,0.2,0.2,0.2',
      LOG_LEVEL: 'warn',
    };
    const first = await startGatewayProcess(env);
    const admin = apiClient(first.baseUrl, ADMIN_TOKEN);
    const endpoint = await admin('POST', '/v1/endpoints', { body: { url: receiver.url } });
    expect(endpoint.status).toBe(201);

    const published: string[] = [];
    const publishers = Array.from({ length: 32 }, async (_, worker) => {
      for (let i = worker; i < EVENTS; i += 32) {
        const response = await admin('POST', '/v1/events', { body: { type: 'crash.test', data: { i } } });
        expect(response.status).toBe(201);
        published.push(response.body.id);
      }
    });
    await Promise.all(publishers);
    await eventually(() => receiver.received.length >= 300, 30_000);
    first.child.kill('SIGKILL');
    await first.exited;

    const inFlightAtCrash = await count(`status = 'delivering'`);
    expect(inFlightAtCrash).toBeGreaterThan(0);
    expect(await count(`status = 'delivered'`)).toBeLessThan(EVENTS);

    const second = await startGatewayProcess(env);
    try {
      await eventually(async () => (await count(`status = 'delivered'`)) === EVENTS, 60_000, 200);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }

    expect(await count('true')).toBe(EVENTS);
    expect(new Set(published).size).toBe(EVENTS);
    for (const id of published) expect(acknowledged.has(id)).toBe(true);
    const delivered = await db.query<{ event_id: string }>(
      `SELECT event_id FROM deliveries WHERE status = 'delivered'`,
    );
    const unacknowledged = delivered.rows.filter((row) => !acknowledged.has(row.event_id));
    expect(unacknowledged).toEqual([]);
    // Duplicates are allowed (at-least-once) but only from attempts cut short by the crash.
    const duplicates = [...arrivals].filter(([id, n]) => n > (refusedFirst(id) ? 2 : 1)).length;
    expect(duplicates).toBeLessThanOrEqual(inFlightAtCrash);
  });
});
