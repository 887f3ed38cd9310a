import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { DeliveryClock } from '../src/endpoints/deliveries/delivery-clock.js';
import { SUSTAINED_FAILURE_MS } from '../src/endpoints/deliveries/delivery-outcomes.js';
import { EndpointRepository } from '../src/endpoints/endpoint.repository.js';
import { apiClient, eventually } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { createTestDatabase } from './support/test-database.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

const ENV = {
  HERALD_ADMIN_TOKEN: 'health-events-admin-token-0123456789',
  // One attempt: an error answer fails the delivery for good at once.
  HERALD_RETRY_SCHEDULE: '0',
};

describe("Herald's own health events when their append is lost", () => {
  let databaseUrl: string;
  let db: pg.Client;
  /** The gateway instances running on the test's database; the first answers the API. */
  let instances: TestApp[] = [];
  let admin: ReturnType<typeof apiClient>;
  /** The operator's receiver, subscribed to every health event. */
  let operator: WebhookReceiver;
  const receivers: WebhookReceiver[] = [];

  async function start(count: number): Promise<void> {
    instances = await Promise.all(Array.from({ length: count }, () => startTestApp(ENV, databaseUrl)));
    admin = apiClient(instances[0]!.baseUrl, ENV.HERALD_ADMIN_TOKEN);
  }

  /** Stops every instance (each waits for its recovery round to end), then starts `count` at once. */
  async function restart(count = 1): Promise<void> {
    await Promise.all(instances.map((instance) => instance.close()));
    instances = [];
    if (count > 0) await start(count);
  }

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    await start(1);
    operator = await startWebhookReceiver();
    await endpointFor(operator.url, ['herald.delivery.*', 'herald.endpoint.*']);
  });
  afterAll(async () => {
    await restart(0);
    await db.end();
    await Promise.all([operator, ...receivers].map((receiver) => receiver.close()));
  });

  async function receiverAnswering(status: number): Promise<WebhookReceiver> {
    const receiver = await startWebhookReceiver(() => ({ status }));
    receivers.push(receiver);
    return receiver;
  }

  async function endpointFor(url: string, types: string[]): Promise<{ id: string }> {
    const created = await admin('POST', '/v1/endpoints', { body: { url, filter: { types } } });
    expect(created.status).toBe(201);
    return created.body;
  }

  async function publish(type: string): Promise<{ id: string }> {
    const published = await admin('POST', '/v1/events', { body: { type } });
    expect(published.status).toBe(201);
    return published.body;
  }

  /** Health events about the endpoint, read from the table so they can be counted with no gateway up. */
  async function reports(type: string, endpointId: string): Promise<Array<{ id: string; data: any }>> {
    const stored = await db.query(`SELECT id, data FROM events WHERE type = $1 AND source_id = $2`, [
      type,
      endpointId,
    ]);
    return stored.rows;
  }

  /** The first health event of `type` about the endpoint, once one is stored. */
  function stored(type: string, endpointId: string): Promise<{ id: string; data: any }> {
    return eventually(async () => {
      const [report] = await reports(type, endpointId);
      if (!report) throw new Error(`no ${type} about ${endpointId} yet`);
      return report;
    });
  }

  /**
   * Makes the database refuse the `change` (INSERT or UPDATE) of `table` rows `when` holds, counting
   * the refusals in a sequence, which the refused transaction's rollback does not undo.
   */
  async function refuse(name: string, change: string, table: string, when: string) {
    await db.query(`CREATE SEQUENCE ${name}`);
    await db.query(`
      CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM nextval('${name}');
        RAISE EXCEPTION 'refused by the test';
      END $$`);
    await db.query(`
      CREATE TRIGGER ${name} BEFORE ${change} ON ${table} FOR EACH ROW
      WHEN (${when}) EXECUTE FUNCTION ${name}()`);
    return {
      refused: async () => (await db.query(`SELECT is_called FROM ${name}`)).rows[0].is_called as boolean,
      lift: async () => {
        await db.query(`DROP TRIGGER ${name} ON ${table}`);
        await db.query(`DROP FUNCTION ${name}()`);
        await db.query(`DROP SEQUENCE ${name}`);
      },
    };
  }

  /** Makes the database refuse every event about the endpoint (Herald's reports have it as source). */
  const refuseReportsAbout = (endpointId: string) =>
    refuse(
      `test_refuse_${endpointId.replace(/-/g, '')}`,
      'INSERT',
      'events',
      `NEW.source_id = '${endpointId}'`,
    );

  /**
   * Outcomes recorded from now on happened a minute ago by the gateway's clock: longer than recovery
   * leaves a fresh one to its own append, so the next start's recovery round takes them up, as after a
   * crash a minute ago.
   */
  function backdateOutcomes(): void {
    instances[0]!.app.get(DeliveryClock).now = () => new Date(Date.now() - 60_000);
  }

  /**
   * An endpoint at a receiver answering `status`, sent one `type` event whose health report the
   * database refused (the refusal lifted afterwards, nothing reported yet).
   */
  async function attemptWithRefusedReport(status: number, type: string) {
    const receiver = await receiverAnswering(status);
    const endpoint = await endpointFor(receiver.url, [type]);
    const refusal = await refuseReportsAbout(endpoint.id);
    backdateOutcomes();
    const event = await publish(type);
    await eventually(refusal.refused);
    await refusal.lift();
    return { receiver, endpoint, event };
  }

  /** After a restart, the one `type` report about the endpoint that recovery stored. */
  async function recoveredAfterRestart(type: string, endpointId: string) {
    await restart();
    const report = await stored(type, endpointId);
    // Fanned out like any event: the operator hears of it.
    await eventually(() => operator.received.some((w) => w.headers['webhook-id'] === report.id));
    expect(await reports(type, endpointId)).toHaveLength(1);
    return report;
  }

  it('reports a delivery that failed while its herald.delivery.failing was refused, once, after a restart', async () => {
    const { receiver: failing, endpoint, event } = await attemptWithRefusedReport(500, 'lost.failure');
    const [delivery] = (await admin('GET', `/v1/endpoints/${endpoint.id}/deliveries?status=failed`)).body
      .data;
    expect(delivery).toMatchObject({ eventId: event.id });
    expect(await reports('herald.delivery.failing', endpoint.id)).toEqual([]);

    const report = await recoveredAfterRestart('herald.delivery.failing', endpoint.id);
    expect(report.data).toEqual({
      endpointId: endpoint.id,
      url: `${new URL(failing.url).origin}/…`,
      deliveryId: delivery.id,
      eventId: event.id,
      eventType: 'lost.failure',
      attempts: 1,
      lastResponseStatus: 500,
      lastError: null,
    });
  });

  it('reports an endpoint a 410 disabled while its herald.endpoint.disabled was refused, once, after a restart', async () => {
    const { receiver: gone, endpoint } = await attemptWithRefusedReport(410, 'lost.disable');
    expect((await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.enabled).toBe(false);
    expect(await reports('herald.endpoint.disabled', endpoint.id)).toEqual([]);

    const report = await recoveredAfterRestart('herald.endpoint.disabled', endpoint.id);
    expect(report.data).toEqual({
      endpointId: endpoint.id,
      url: `${new URL(gone.url).origin}/…`,
      reason: 'the endpoint answered 410 Gone',
    });
    // The 410 is reported as the disabling it caused, never also as a failed delivery.
    expect(await reports('herald.delivery.failing', endpoint.id)).toEqual([]);
  });

  it('disables an endpoint whose disabling after a 410 was lost, and reports it once, after a restart', async () => {
    const receiver = await receiverAnswering(410);
    const endpoint = await endpointFor(receiver.url, ['lost.disabling']);
    // The database refuses the disabling, as if the process had died between the attempt and it.
    const refusal = await refuse(
      `test_keep_${endpoint.id.replace(/-/g, '')}`,
      'UPDATE',
      'endpoints',
      `OLD.id = '${endpoint.id}' AND OLD.enabled AND NOT NEW.enabled`,
    );
    await publish('lost.disabling');
    await eventually(refusal.refused);
    await refusal.lift();
    expect((await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.enabled).toBe(true);

    const report = await recoveredAfterRestart('herald.endpoint.disabled', endpoint.id);
    expect(report.data).toEqual({
      endpointId: endpoint.id,
      url: `${new URL(receiver.url).origin}/…`,
      reason: 'the endpoint answered 410 Gone',
    });
    expect((await admin('GET', `/v1/endpoints/${endpoint.id}`)).body).toMatchObject({
      enabled: false,
      disabledReason: 'the endpoint answered 410 Gone',
    });
    // An operator's re-enabling stands: the same 410 does not disable it again.
    await admin('PATCH', `/v1/endpoints/${endpoint.id}`, { body: { enabled: true } });
    await restart();
    expect((await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.enabled).toBe(true);
    expect(await reports('herald.endpoint.disabled', endpoint.id)).toHaveLength(1);

    // Nor once the operator has the delivery tried again: made due, claimed and sent, it keeps the old
    // 410 until the new answer is recorded, and a recovery round meanwhile must not take that 410 for new.
    receiver.respond(() => ({ status: 204, delayMs: 1_500 }));
    const missed = async () =>
      (await instances[0]!.app.get(EndpointRepository).missedDisables(new Date(0), SUSTAINED_FAILURE_MS)).map(
        (m) => m.id,
      );
    const [gone] = (await admin('GET', `/v1/endpoints/${endpoint.id}/deliveries?status=failed`)).body.data;
    expect((await admin('POST', `/v1/deliveries/${gone.id}/retry`)).status).toBe(202);
    expect(await missed()).not.toContain(endpoint.id);
    await eventually(() => receiver.received.length === 2);
    expect(await missed()).not.toContain(endpoint.id);
    await eventually(
      async () => (await admin('GET', `/v1/deliveries/${gone.id}`)).body.status === 'delivered',
    );
    expect((await admin('GET', `/v1/endpoints/${endpoint.id}`)).body.enabled).toBe(true);
  });

  it('stores a report once when its own append succeeded and two instances recover at once', async () => {
    const failing = await receiverAnswering(500);
    const reported = await endpointFor(failing.url, ['twice.reported']);
    const lost = await endpointFor(failing.url, ['twice.lost']);
    const refusal = await refuseReportsAbout(lost.id);
    backdateOutcomes();
    await publish('twice.reported');
    await publish('twice.lost');
    await stored('herald.delivery.failing', reported.id);
    await eventually(refusal.refused);
    await refusal.lift();
    expect(await reports('herald.delivery.failing', lost.id)).toEqual([]);

    // Two instances start at once, and each start-up round reports what it finds marked: the failure
    // already reported, and the lost one. Stopping them waits for their rounds to end.
    await restart(2);
    await stored('herald.delivery.failing', lost.id);
    await restart(0);
    expect(await reports('herald.delivery.failing', reported.id)).toHaveLength(1);
    expect(await reports('herald.delivery.failing', lost.id)).toHaveLength(1);
  });
});
