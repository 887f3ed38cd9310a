import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildSeatableWebhook } from '@herald/seatable/testing';
import { SilenceWatcher } from '../src/sources/silence-watcher.service.js';
import { apiClient, eventually } from './support/http.js';
import { collect, connectSocket, subscribe } from './support/sockets.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('herald.source.silent', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    herald = await startTestApp();
    admin = apiClient(herald.baseUrl, herald.adminToken);
  });
  afterAll(() => herald.close());

  it('alerts once per quiet spell for a source that usually sends, and operators receive it like any event', async () => {
    const source = (
      await admin('POST', '/v1/sources', {
        body: { name: 'crm', provider: 'seatable', mode: 'webhook', silentAfterSeconds: 60 },
      })
    ).body;
    expect(source.silentAfterSeconds).toBe(60);
    const quietSource = (
      await admin('POST', '/v1/sources', {
        body: { name: 'never', provider: 'jellyfish', mode: 'webhook', silentAfterSeconds: 60 },
      })
    ).body;
    const socket = await connectSocket(herald.baseUrl, herald.adminToken);
    const received = collect(socket);
    const operators = await subscribe(socket, { types: ['herald.source.*'] });
    if (!operators.ok) throw new Error('subscribe failed');

    const send = async (opTime: number) => {
      const webhook = buildSeatableWebhook({
        dtable_uuid: 'fae0a3a42ba94df88e8303fd385e37de',
        row_id: 'r1',
        op_user: 'u',
        op_type: 'modify_row',
        op_time: opTime,
        table_id: '0000',
        table_name: 'T',
        row_name: 'x',
        row_data: [],
        op_app: null,
      });
      const response = await apiClient('')('POST', source.ingestUrl, {
        rawBody: webhook.body,
        headers: webhook.headers,
      });
      expect(response.status).toBe(202);
    };
    await send(1);
    const watcher = herald.app.get(SilenceWatcher);
    const start = Date.now();
    expect(await watcher.check(start + 30_000)).toBe(0);
    expect(await watcher.check(start + 61_000)).toBe(1);
    expect(await watcher.check(start + 120_000)).toBe(0);

    const alerts = (await admin('GET', `/v1/events?type=herald.source.silent&source=${source.id}`)).body.data;
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      provider: 'herald',
      sourceid: source.id,
      subject: `sources/${source.id}`,
      data: { sourceId: source.id, sourceName: 'crm', provider: 'seatable', silentAfterSeconds: 60 },
    });
    expect(alerts[0].data.silentForSeconds).toBeGreaterThanOrEqual(60);
    // The source's status still names the provider's last event, not Herald's alert about it.
    const [sent] = (await admin('GET', `/v1/events?type=seatable.**&source=${source.id}`)).body.data;
    const status = (await admin('GET', `/v1/sources/${source.id}/status`)).body;
    expect(status.lastEventAt).toBe(sent.receivedat);
    await eventually(() => expect(received.get(operators.id)?.map((e) => e.id)).toEqual([alerts[0].id]));

    // A new event ends the spell; the next quiet spell alerts again. A source that never sent never alerts.
    await send(2);
    expect(await watcher.check(Date.now() + 61_000)).toBe(1);
    expect(
      (await admin('GET', `/v1/events?type=herald.source.silent&source=${quietSource.id}`)).body.data,
    ).toHaveLength(0);
    socket.close();
  });
});
