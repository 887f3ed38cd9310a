import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { computeSignature, SIGNATURE_HEADER } from '@herald/seatable';
import { buildSeatableWebhook } from '@herald/seatable/testing';
import { IngestRefusalClock } from '../src/ingest/ingest-refusals.js';
import { apiClient, eventually } from './support/http.js';
import { postWebhook, seatableRowData } from './support/seatable-webhooks.js';
import { capturedLogs, startTestApp, type TestApp } from './support/test-app.js';

// The marker shows whether any log line carries the body.
const rowData = { ...seatableRowData, row_name: 'body-marker-7f3a' };

describe('refused ingest requests in the log', () => {
  const logs = capturedLogs();
  let herald: TestApp;
  let source: { id: string; ingestUrl: string };
  const secret = 'seatable-secret';
  const post = postWebhook;
  const refusals = () => logs.lines.filter((line) => line.msg === 'ingest request refused');
  // Lines are written after the answer, so two refusals in a row may be logged in either order.
  const byCode = (lines: Array<Record<string, unknown>>) =>
    [...lines].sort((a, b) => String(a.code).localeCompare(String(b.code)));

  beforeAll(async () => {
    herald = await startTestApp(
      { HERALD_MAX_BODY: '4kib', HERALD_REQUEST_TIMEOUT: '2' },
      undefined,
      0,
      logs.logger,
    );
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    source = (
      await admin('POST', '/v1/sources', {
        body: { name: 'crm', provider: 'seatable', mode: 'webhook', config: { secret } },
      })
    ).body;
  });
  afterAll(() => herald.close());

  const ingestCounts = async () => {
    const text: string = (await apiClient(herald.baseUrl)('GET', '/metrics')).body;
    const counts: Record<string, number> = {};
    for (const [, labels, value] of text.matchAll(/^herald_ingest_requests_total\{(.*)\} (\d+)$/gm)) {
      counts[labels!] = Number(value);
    }
    return counts;
  };

  it('starts with the longest request timeout it takes, above Node’s default of 300 s', async () => {
    const patient = await startTestApp({ HERALD_REQUEST_TIMEOUT: '3600' });
    try {
      expect((await fetch(`${patient.baseUrl}/healthz`)).status).toBe(200);
    } finally {
      await patient.close();
    }
  });

  it('cuts off a client that sends its body too slowly with 408', async () => {
    const { hostname, port } = new URL(herald.baseUrl);
    const socket = connect(Number(port), hostname);
    const opened = Date.now();
    socket.write(
      `POST ${new URL(source.ingestUrl).pathname} HTTP/1.1\r\nHost: x\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    // A byte a second keeps the connection busy, never idle.
    const drip = setInterval(() => socket.write(' '), 1_000);
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        let received = '';
        socket.on('data', (chunk) => (received += chunk.toString()));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toMatch(/^content-type: application\/problem\+json\r$/im);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
        status: 408,
        code: 'request_timeout',
        detail: expect.stringContaining('HERALD_REQUEST_TIMEOUT'),
      });
      expect(Date.now() - opened).toBeLessThan(10_000);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  }, 20_000);

  it('logs each refusal once per source and code per window, with what was dropped, never the URL or body', async () => {
    const countsBefore = await ingestCounts();
    const webhook = buildSeatableWebhook(rowData, { secret: 'the-old-secret' });
    const statuses = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await post(source.ingestUrl, webhook.body, webhook.headers)).status);
    const tooLarge = buildSeatableWebhook({ ...rowData, row_name: 'x'.repeat(5000) }, { secret });
    statuses.push((await post(source.ingestUrl, tooLarge.body, tooLarge.headers)).status);
    const csv = { ...webhook.headers, 'content-type': 'text/csv' };
    statuses.push((await post(source.ingestUrl, webhook.body, csv)).status);
    const wrongToken = source.ingestUrl.replace(/hing_.*$/, 'hing_wrong');
    statuses.push((await post(wrongToken, webhook.body, webhook.headers)).status);
    const unknown = source.ingestUrl.replace(source.id, '01a20908-12fe-72dd-bcfb-85f9c4aed6b5');
    statuses.push((await post(unknown, webhook.body, webhook.headers)).status);
    const accepted = buildSeatableWebhook(rowData, { secret });
    statuses.push((await post(source.ingestUrl, accepted.body, accepted.headers)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 413, 415, 401, 404, 202]);
    // Counted too, whether refused by Fastify (413), at the URL (401, 404) or by the adapter.
    await eventually(async () => {
      const counts = await ingestCounts();
      const added = (labels: string) => (counts[labels] ?? 0) - (countsBefore[labels] ?? 0);
      expect({
        refused: added('provider="seatable",outcome="refused"'),
        unknown: added('provider="unknown",outcome="refused"'),
        accepted: added('provider="seatable",outcome="accepted"'),
      }).toEqual({ refused: 8, unknown: 1, accepted: 1 });
    });

    const seatable = { sourceId: source.id, provider: 'seatable', suppressed: 0 };
    const expected = [
      { level: 40, ...seatable, status: 401, code: 'invalid_signature', reason: expect.any(String) },
      { level: 30, ...seatable, status: 413, code: 'payload_too_large', reason: expect.any(String) },
      {
        level: 30,
        ...seatable,
        status: 415,
        code: 'unsupported_media_type',
        reason: 'seatable webhooks are application/json, not "text/csv".',
      },
      { level: 40, ...seatable, status: 401, code: 'unauthorized', reason: expect.any(String) },
      {
        level: 30,
        sourceId: '01a20908-12fe-72dd-bcfb-85f9c4aed6b5',
        provider: null,
        status: 404,
        code: 'not_found',
        reason: expect.any(String),
        suppressed: 0,
      },
    ];
    await eventually(() =>
      expect(byCode(refusals())).toEqual(byCode(expected).map((line) => expect.objectContaining(line))),
    );

    // A minute later the next refusal is written again, counting the four dropped meanwhile.
    const clock = herald.app.get(IngestRefusalClock);
    const realNow = clock.now;
    clock.now = () => realNow() + 60_000;
    try {
      expect((await post(source.ingestUrl, webhook.body, webhook.headers)).status).toBe(401);
      await eventually(() => expect(refusals()).toHaveLength(6));
    } finally {
      clock.now = realNow;
    }
    expect(refusals()[5]).toMatchObject({ code: 'invalid_signature', level: 40, suppressed: 4 });

    const written = JSON.stringify(refusals());
    for (const secretPart of [
      source.ingestUrl.split('/').pop()!,
      'hing_wrong',
      'body-marker-7f3a',
      '/v1/ingest',
    ]) {
      expect(written).not.toContain(secretPart);
    }
  });

  it('logs an empty or undecodable body at info', async () => {
    const empty = { 'content-type': 'application/json', [SIGNATURE_HEADER]: computeSignature(secret, '') };
    expect((await post(source.ingestUrl, '', empty)).status).toBe(400);
    const malformed = '{"event": ';
    const signed = {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: computeSignature(secret, malformed),
    };
    expect((await post(source.ingestUrl, malformed, signed)).status).toBe(400);
    await eventually(() =>
      expect(byCode(refusals().filter((line) => line.status === 400))).toEqual([
        expect.objectContaining({ level: 30, sourceId: source.id, code: 'empty_body' }),
        expect.objectContaining({ level: 30, sourceId: source.id, code: 'invalid_json' }),
      ]),
    );
  });
});
