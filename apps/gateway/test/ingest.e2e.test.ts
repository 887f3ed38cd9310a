import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  encodeNotificationBatch,
  encodeServerMessage,
  encodeV03JsonBody,
  fishjamSignature,
  ServerMessage_TrackType,
} from '@herald/jellyfish/testing';
import { computeSignature, SIGNATURE_HEADER } from '@herald/seatable';
import { buildSeatableWebhook, seatableWebhookOfText } from '@herald/seatable/testing';
import pg from 'pg';
import { gzipSync } from 'node:zlib';
import { CUT_TOO_DEEP } from '../src/common/storable.js';
import { apiClient, rawExchange, splitRawAnswer } from './support/http.js';
import { postWebhook, seatableRowData } from './support/seatable-webhooks.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('provider webhooks (/v1/ingest/:sourceId/:token)', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;
  const post = postWebhook;
  const eventCount = async (sourceId: string) =>
    (await admin('GET', `/v1/events?source=${sourceId}&limit=500`)).body.data.length;
  /** POSTs a webhook to `source`, expecting the problem `status`/`code`/`detail` and no event stored. */
  const refusedStoringNothing = async (
    source: { id: string; ingestUrl: string },
    body: string | Uint8Array,
    headers: Record<string, string>,
    problem: { status: number; code: string; detail: string },
  ) => {
    const before = await eventCount(source.id);
    const response = await post(source.ingestUrl, body, headers);
    expect(response.status).toBe(problem.status);
    expect(response.body).toMatchObject({
      code: problem.code,
      detail: expect.stringContaining(problem.detail),
    });
    expect(await eventCount(source.id)).toBe(before);
  };

  beforeAll(async () => {
    herald = await startTestApp();
    admin = apiClient(herald.baseUrl, herald.adminToken);
  });
  afterAll(() => herald.close());

  describe('SeaTable', () => {
    let source: { id: string; ingestUrl: string };
    const secret = 'ärger-secret';

    beforeAll(async () => {
      const created = await admin('POST', '/v1/sources', {
        body: { name: 'crm', provider: 'seatable', mode: 'webhook', config: { secret } },
      });
      expect(created.status).toBe(201);
      source = created.body;
    });

    it('hands out an ingest URL once and masks secrets afterwards', async () => {
      expect(source.ingestUrl).toMatch(
        new RegExp(`^${herald.baseUrl}/v1/ingest/${source.id}/hing_[A-Za-z0-9_-]{32}$`),
      );
      const fetched = await admin('GET', `/v1/sources/${source.id}`);
      expect(fetched.body.ingestUrl).toMatch(/\/hing_.{4}\*\*\*\*$/);
      expect(JSON.stringify(fetched.body)).not.toContain(secret);
      const status = await admin('GET', `/v1/sources/${source.id}/status`);
      expect(status.body).toMatchObject({ mode: 'webhook', state: null, lastEventAt: null });
    });

    it('builds ingest URLs on the forwarded host only when told to trust a proxy', async () => {
      const forwarded = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
      const body = { name: 'forwarded', provider: 'seatable', mode: 'webhook', config: {} };
      const direct = await admin('POST', '/v1/sources', { body, headers: forwarded });
      expect(direct.body.ingestUrl).toMatch(new RegExp(`^${herald.baseUrl}/v1/ingest/`));
      const proxied = await startTestApp({ HERALD_TRUST_PROXY: 'true' });
      try {
        const created = await apiClient(proxied.baseUrl, proxied.adminToken)('POST', '/v1/sources', {
          body,
          headers: forwarded,
        });
        expect(created.body.ingestUrl).toMatch(/^https:\/\/evil\.example\/v1\/ingest\//);
      } finally {
        await proxied.close();
      }
    });

    it('runs only the actions the adapter defines, never what every object inherits', async () => {
      for (const action of ['constructor', 'valueOf', 'hasOwnProperty', 'toString', '__proto__']) {
        const answer = await admin('POST', `/v1/sources/${source.id}/${action}`, { body: {} });
        expect({ action, status: answer.status, code: answer.body.code }).toEqual({
          action,
          status: 404,
          code: 'not_found',
        });
        expect(JSON.stringify(answer.body)).not.toContain(secret);
      }
    });

    it('is in the OpenAPI document', async () => {
      const document = (await admin('GET', '/docs/openapi.json')).body;
      // Every route is documented, the Prometheus scrape included (contract §5).
      expect(Object.keys(document.paths['/metrics'].get.responses['200'].content)).toEqual(['text/plain']);
      expect(document.paths['/v1/ingest/{sourceId}/{ingestToken}'].post).toMatchObject({
        tags: ['ingest'],
        responses: { '202': expect.any(Object) },
      });

      // Every /v1 route and the probes say what they answer: a described 2xx with a schema (none for
      // 204), and their errors as problem+json.
      type Response = { description?: string; content?: Record<string, { schema?: object }> };
      const routes = Object.entries(
        document.paths as Record<string, Record<string, { responses: Record<string, Response> }>>,
      )
        .filter(([path]) => path.startsWith('/v1/') || ['/healthz', '/readyz'].includes(path))
        .flatMap(([path, operations]) =>
          Object.entries(operations).map(([method, op]) => ({ route: `${method} ${path}`, op })),
        );
      expect(routes.length).toBeGreaterThanOrEqual(25);
      for (const { route, op } of routes) {
        const statuses = Object.keys(op.responses);
        const success = statuses.filter((status) => status.startsWith('2'));
        expect({ route, success: success.length > 0 }).toEqual({ route, success: true });
        for (const status of success) {
          const { description, content } = op.responses[status]!;
          const schema = content?.['application/json']?.schema;
          expect({ route, status, described: Boolean(description), schema: Boolean(schema) }).toEqual({
            route,
            status,
            described: true,
            schema: status !== '204',
          });
        }
        // Liveness answers whenever the process does.
        if (route === 'get /healthz') continue;
        const problem = op.responses['404'] ?? op.responses['400'] ?? op.responses['503'];
        expect({ route, problem: problem?.content?.['application/problem+json']?.schema }).toEqual({
          route,
          problem: { $ref: '#/components/schemas/ProblemDto' },
        });
      }
      expect(document.paths['/v1/api-keys/{id}'].delete.responses['409'].description).toContain(
        'last_admin_key',
      );
      // The one action route names each provider's actions and their bodies.
      const action = document.paths['/v1/sources/{id}/{action}'].post;
      expect(action.parameters).toContainEqual(
        expect.objectContaining({ name: 'action', schema: { type: 'string', enum: ['toasts'] } }),
      );
      expect(action.requestBody.content['application/json'].schema.oneOf).toEqual([
        expect.objectContaining({ title: 'seatable toasts', required: ['toUser', 'message'] }),
      ]);
      // A body too large, of the wrong type, or a method the route does not take.
      expect(Object.keys(document.paths['/v1/events'].post.responses)).toEqual(
        expect.arrayContaining(['405', '413', '415']),
      );

      // Keys are opaque hrld_ tokens, not JWTs.
      const [scheme] = Object.values(document.components.securitySchemes) as Array<Record<string, string>>;
      expect(scheme).toMatchObject({
        type: 'http',
        scheme: 'bearer',
        description: expect.stringContaining('hrld_'),
      });
      expect(scheme!.bearerFormat).not.toMatch(/jwt/i);

      for (const dto of ['CreateSourceDto', 'SourceDto']) {
        expect(document.components.schemas[dto].properties.silentAfterSeconds).toMatchObject({
          type: 'integer',
          nullable: true,
        });
      }
    });

    it('stores a signed webhook (Python json.dumps bytes) as seatable.row.modified after commit', async () => {
      const webhook = buildSeatableWebhook(seatableRowData, { secret });
      expect(webhook.text).toContain('"table_name": "T\\u00e2ches"');
      const response = await post(source.ingestUrl, webhook.body, webhook.headers);
      expect(response.status).toBe(202);
      expect(response.body).toEqual({ accepted: 1, ids: [expect.any(String)] });
      const event = await admin('GET', `/v1/events/${response.body.ids[0]}?include=raw`);
      expect(event.body).toMatchObject({
        type: 'seatable.row.modified',
        source: `/sources/${source.id}`,
        sourceid: source.id,
        provider: 'seatable',
        subject: 'tables/0000/rows/QoNno3QiTF26sxmG1sl3_g',
        time: '2022-04-14T07:52:57.279Z',
        data: expect.objectContaining({
          tableName: 'Tâches',
          rowName: 'Zoë',
          rowId: 'QoNno3QiTF26sxmG1sl3_g',
        }),
        raw: webhook.text,
        rawContentType: 'application/json',
        rawEncoding: 'utf8',
      });
      // A redelivery of the same change is stored once and answers with the same id.
      const again = await post(source.ingestUrl, webhook.body, webhook.headers);
      expect(again.body.ids).toEqual(response.body.ids);
      const status = await admin('GET', `/v1/sources/${source.id}/status`);
      expect(status.body.lastEventAt).toEqual(expect.any(String));
    });

    it('stores two edits of one row made in the same millisecond as two events', async () => {
      const edit = (value: string) =>
        buildSeatableWebhook(
          {
            ...seatableRowData,
            op_time: 1649922700.5,
            row_data: [{ ...seatableRowData.row_data[0], value }],
          },
          { secret },
        );
      const ids = [];
      for (const webhook of [edit('one'), edit('two')]) {
        const response = await post(source.ingestUrl, webhook.body, webhook.headers);
        expect(response.status).toBe(202);
        ids.push(response.body.ids[0]);
      }
      expect(new Set(ids).size).toBe(2);
      const values = await Promise.all(ids.map((id) => admin('GET', `/v1/events/${id}`)));
      expect(values.map((event) => event.body.data.changes[0].value)).toEqual(['one', 'two']);
    });

    it.each([8.64e12, -3e11])(
      'takes an op_time of %d s, beyond the years RFC 3339 can write, as no time given',
      async (opTime) => {
        const webhook = buildSeatableWebhook({ ...seatableRowData, op_time: opTime }, { secret });
        const response = await post(source.ingestUrl, webhook.body, webhook.headers);
        expect(response.status).toBe(202);
        const event = await admin('GET', `/v1/events/${response.body.ids[0]}`);
        expect(event.body.time).toBe(event.body.receivedat);
      },
    );

    it('checks signatures with the secret as given, spaces included, or trimmed', async () => {
      const spaced = ' spaced secret ';
      const created = await admin('POST', '/v1/sources', {
        body: { name: 'spaced', provider: 'seatable', mode: 'webhook', config: { secret: spaced } },
      });
      expect(created.status).toBe(201);
      const webhook = buildSeatableWebhook(seatableRowData, { secret: spaced });
      expect((await post(created.body.ingestUrl, webhook.body, webhook.headers)).status).toBe(202);
      const trimmed = buildSeatableWebhook(
        { ...seatableRowData, op_time: 1649922600.5 },
        { secret: spaced.trim() },
      );
      expect((await post(created.body.ingestUrl, trimmed.body, trimmed.headers)).status).toBe(202);
      const other = buildSeatableWebhook(seatableRowData, { secret: 'spaced secret!' });
      expect((await post(created.body.ingestUrl, other.body, other.headers)).status).toBe(401);
    });

    it('accepts a row whose primary column is a number (row_name is the raw cell) and stores it as text', async () => {
      const webhook = buildSeatableWebhook(
        { ...seatableRowData, op_time: 1649922800.5, row_name: 1042 },
        { secret },
      );
      const response = await post(source.ingestUrl, webhook.body, webhook.headers);
      expect(response.status).toBe(202);
      const event = await admin('GET', `/v1/events/${response.body.ids[0]}`);
      expect(event.body.data.rowName).toBe('1042');
    });

    it('stores a webhook whose text holds NUL and a lone surrogate (jsonb refuses both) with U+FFFD, keeping the raw bytes', async () => {
      const webhook = buildSeatableWebhook(
        {
          ...seatableRowData,
          op_time: 1649922900.5,
          row_name: 'a\u0000b\ud800',
          row_data: [{ ...seatableRowData.row_data[0], value: { 'k\u0000': ['\u0000'] } }],
        },
        { secret },
      );
      const response = await post(source.ingestUrl, webhook.body, webhook.headers);
      expect(response.status).toBe(202);
      const event = await admin('GET', `/v1/events/${response.body.ids[0]}?include=raw`);
      expect(event.body.data.rowName).toBe('a\ufffdb\ufffd');
      expect(event.body.data.changes[0].value).toEqual({ 'k\ufffd': ['\ufffd'] });
      expect(event.body.raw).toBe(webhook.text);
    });

    it('stores concurrent redeliveries of one change once, answering each with the same id', async () => {
      const before = await eventCount(source.id);
      const changes = [1649923000.5, 1649923001.5].map((opTime) =>
        buildSeatableWebhook({ ...seatableRowData, op_time: opTime }, { secret }),
      );
      // Sent at once, most of them share a write batch with their own duplicates.
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => changes[i % 2]!).map((w) =>
          post(source.ingestUrl, w.body, w.headers),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
      const idsOf = (parity: number) =>
        new Set(answers.filter((_, i) => i % 2 === parity).map((a) => a.body.ids[0]));
      expect(idsOf(0).size).toBe(1);
      expect(idsOf(1).size).toBe(1);
      expect(idsOf(0)).not.toEqual(idsOf(1));
      expect(await eventCount(source.id)).toBe(before + 2);
      const later = await post(source.ingestUrl, changes[0]!.body, changes[0]!.headers);
      expect(later.body.ids).toEqual([...idsOf(0)]);
    });

    it('answers 503 with Retry-After when the original of a redelivery vanishes as it is written, and stores the retry', async () => {
      const webhook = buildSeatableWebhook({ ...seatableRowData, op_time: 1649923100.5 }, { secret });
      const first = await post(source.ingestUrl, webhook.body, webhook.headers);
      expect(first.status).toBe(202);
      // Deletes the original inside the redelivery's own write, after its conflict skipped the row: the
      // read-back after the commit finds nothing, as when retention removes the original at that moment.
      const db = new pg.Client({ connectionString: herald.databaseUrl });
      await db.connect();
      try {
        await db.query(`CREATE FUNCTION test_vanish() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN DELETE FROM events WHERE id = '${first.body.ids[0]}'; RETURN NULL; END $$`);
        await db.query('CREATE TRIGGER test_vanish AFTER INSERT ON events EXECUTE FUNCTION test_vanish()');
        const redelivery = await post(source.ingestUrl, webhook.body, webhook.headers);
        expect(redelivery.status).toBe(503);
        expect(redelivery.headers.get('retry-after')).toBe('1');
        expect(redelivery.body).toMatchObject({ status: 503, code: 'database_unavailable' });
      } finally {
        await db.query('DROP TRIGGER IF EXISTS test_vanish ON events; DROP FUNCTION IF EXISTS test_vanish()');
        await db.end();
      }
      const retry = await post(source.ingestUrl, webhook.body, webhook.headers);
      expect(retry.status).toBe(202);
      expect(retry.body.ids).toEqual([expect.not.stringMatching(first.body.ids[0])]);
      expect((await admin('GET', `/v1/events/${retry.body.ids[0]}`)).status).toBe(200);
    });

    it('refuses tampered or unsigned bodies, wrong tokens, unknown sources and other content types, storing nothing', async () => {
      const before = await eventCount(source.id);
      const webhook = buildSeatableWebhook({ ...seatableRowData, op_time: 1649922999.1 }, { secret });
      const tampered = webhook.text.replace('Zo\\u00eb', 'Eve');
      // The adapter checks the signature before it parses: malformed JSON is reported only when signed.
      const malformed = '{"event": "update", "data": ';
      const signedMalformed = { ...webhook.headers, [SIGNATURE_HEADER]: computeSignature(secret, malformed) };
      const cases: Array<[string, string | Uint8Array, Record<string, string>, number, string]> = [
        [source.ingestUrl, tampered, webhook.headers, 401, 'invalid_signature'],
        [source.ingestUrl, webhook.body, { 'content-type': 'application/json' }, 401, 'missing_signature'],
        [
          source.ingestUrl.replace(/hing_.*$/, 'hing_wrong'),
          webhook.body,
          webhook.headers,
          401,
          'unauthorized',
        ],
        [
          source.ingestUrl.replace(source.id, '01a20908-12fe-72dd-bcfb-85f9c4aed6b5'),
          webhook.body,
          webhook.headers,
          404,
          'not_found',
        ],
        [
          source.ingestUrl,
          webhook.body,
          { ...webhook.headers, 'content-type': 'text/csv' },
          415,
          'unsupported_media_type',
        ],
        [source.ingestUrl, malformed, webhook.headers, 401, 'invalid_signature'],
        [source.ingestUrl, malformed, signedMalformed, 400, 'invalid_json'],
      ];
      for (const [url, body, headers, status, code] of cases) {
        const response = await post(url, body, headers);
        expect({ status: response.status, code: response.body.code }).toEqual({ status, code });
      }
      const unsigned = buildSeatableWebhook({ event: 'x' } as never, { secret });
      expect((await post(source.ingestUrl, unsigned.body, unsigned.headers)).body.code).toBe('invalid_body');
      expect(await eventCount(source.id)).toBe(before);
    });

    it('refuses compressed and non-UTF-8 bodies with 415 naming the header, rather than misreading them', async () => {
      const webhook = buildSeatableWebhook({ ...seatableRowData, op_time: 1649922999.7 }, { secret });
      const gzipped = gzipSync(webhook.body);
      const compressed = await post(source.ingestUrl, gzipped, {
        ...webhook.headers,
        'content-encoding': 'gzip',
      });
      expect(compressed.status).toBe(415);
      expect(compressed.headers.get('accept-encoding')).toBe('identity');
      expect(compressed.body).toMatchObject({
        code: 'unsupported_media_type',
        detail: expect.stringContaining('Content-Encoding: gzip'),
        errors: [{ field: 'content-encoding', message: 'must be identity or absent' }],
      });
      const utf16 = Buffer.from(webhook.text, 'utf16le');
      await refusedStoringNothing(
        source,
        utf16,
        { ...webhook.headers, 'content-type': 'application/json; charset=UTF-16' },
        { status: 415, code: 'unsupported_media_type', detail: 'charset=utf-16' },
      );
      // What Herald reads as it is still passes: identity, utf-8 in any spelling.
      for (const extra of [
        { 'content-encoding': 'identity' },
        { 'content-type': 'application/json; charset="UTF-8"' },
      ] as Array<Record<string, string>>) {
        const accepted = await post(source.ingestUrl, webhook.body, { ...webhook.headers, ...extra });
        expect(accepted.status).toBe(202);
      }
    });

    it('refuses an empty body with 400 empty_body, as for every provider, signed or not', async () => {
      const before = await eventCount(source.id);
      const json = { 'content-type': 'application/json' };
      // Today's answers differ (invalid_json when signed, missing_signature when not): one code for both.
      for (const headers of [{ ...json, [SIGNATURE_HEADER]: computeSignature(secret, '') }, json]) {
        const response = await post(source.ingestUrl, '', headers);
        expect({ status: response.status, code: response.body.code }).toEqual({
          status: 400,
          code: 'empty_body',
        });
      }
      expect(await eventCount(source.id)).toBe(before);
    });

    it('answers 409 source_disabled to a signed webhook for a disabled source, storing nothing', async () => {
      const created = await admin('POST', '/v1/sources', {
        body: { name: 'paused', provider: 'seatable', mode: 'webhook', config: { secret }, enabled: false },
      });
      const paused: { id: string; ingestUrl: string } = created.body;
      const webhook = buildSeatableWebhook(seatableRowData, { secret });
      const refused = await post(paused.ingestUrl, webhook.body, webhook.headers);
      expect(refused.status).toBe(409);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
      expect(refused.body).toMatchObject({
        code: 'source_disabled',
        detail: expect.stringContaining('is disabled'),
      });
      // The token still comes first: without it, nothing is said about the source.
      const wrongToken = paused.ingestUrl.replace(/hing_.*$/, 'hing_wrong');
      expect((await post(wrongToken, webhook.body, webhook.headers)).status).toBe(401);
      expect(await eventCount(paused.id)).toBe(0);

      await admin('PATCH', `/v1/sources/${paused.id}`, { body: { enabled: true } });
      expect((await post(paused.ingestUrl, webhook.body, webhook.headers)).status).toBe(202);
    });

    it('stores a webhook nested deeper than 64 levels with the deep part cut and its raw body whole', async () => {
      const shallow = buildSeatableWebhook(
        {
          ...seatableRowData,
          op_time: 1649923000.5,
          row_data: [{ ...seatableRowData.row_data[0], value: 'DEEP' }],
        },
        { secret },
      );
      const deep = `${'{"a": '.repeat(5_000)}"bottom"${'}'.repeat(5_000)}`;
      const webhook = seatableWebhookOfText(shallow.text.replace('"DEEP"', deep), { secret });
      const response = await post(source.ingestUrl, webhook.body, webhook.headers);
      expect(response.status).toBe(202);
      const stored = (await admin('GET', `/v1/events/${response.body.ids[0]}?include=raw`)).body;
      expect(stored.type).toBe('seatable.row.modified');
      expect(stored.raw).toBe(webhook.text);
      // Kept down to the 64th level of the event's data, the rest named.
      let level = stored.data.changes ?? stored.data;
      const path: string[] = [];
      while (typeof level === 'object' && level !== null) {
        const key = Object.keys(level).find(
          (k) => typeof level[k] === 'object' || level[k] === CUT_TOO_DEEP,
        )!;
        path.push(key);
        level = level[key];
      }
      expect(level).toBe(CUT_TOO_DEEP);
      expect(path.length).toBeLessThanOrEqual(64);
    });

    it('answers a malformed ingest URL, or one opened with GET, with a problem that does not repeat the token', async () => {
      const webhook = buildSeatableWebhook(seatableRowData, { secret });
      const token = source.ingestUrl.split('/').pop()!;
      // Malformed percent-encoding, and a token segment longer than Fastify routes.
      for (const url of [`${source.ingestUrl}%ff`, `${source.ingestUrl}${'x'.repeat(100)}`]) {
        const response = await post(url, webhook.body, webhook.headers);
        expect(response.status).toBe(400);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect(response.body.code).toBe('validation_failed');
        expect(JSON.stringify(response.body)).not.toContain(token.slice(0, 20));
      }
      // A method the route does not take, as when the URL is opened in a browser; and a path beyond it.
      const origin = new URL(source.ingestUrl).origin;
      for (const [url, method, status] of [
        [source.ingestUrl, 'GET', 405],
        [`${source.ingestUrl}/`, 'POST', 404],
        [`${source.ingestUrl}/more`, 'GET', 404],
        [`${origin}/v1/ingest//${token}`, 'GET', 404],
        [`${origin}/v1/INGEST/${source.id}/${token}`, 'POST', 404],
      ] as const) {
        const opened = await fetch(url, { method });
        expect({ url, status: opened.status }).toEqual({ url, status });
        expect(await opened.text()).not.toContain(token.slice(5, 20));
      }
    });

    it('answers 413 over HERALD_MAX_BODY', async () => {
      const big = buildSeatableWebhook({ ...seatableRowData, row_name: 'x'.repeat(1_100_000) }, { secret });
      const response = await post(source.ingestUrl, big.body, big.headers);
      expect(response.status).toBe(413);
      expect(response.body.code).toBe('payload_too_large');
    });

    it('stops accepting the old URL after rotation, however the source id in it is spelled', async () => {
      // A UUID in any case names the same source; the old token must stop working in every spelling.
      const shouted = source.ingestUrl.replace(source.id, source.id.toUpperCase());
      const earlier = buildSeatableWebhook({ ...seatableRowData, op_time: 1649921000 }, { secret });
      expect((await post(shouted, earlier.body, earlier.headers)).status).toBe(202);
      const rotated = await admin('POST', `/v1/sources/${source.id}/rotate-ingest-token`);
      expect(rotated.status).toBe(200);
      const webhook = buildSeatableWebhook({ ...seatableRowData, op_time: 1649922000 }, { secret });
      expect((await post(source.ingestUrl, webhook.body, webhook.headers)).status).toBe(401);
      expect((await post(shouted, webhook.body, webhook.headers)).status).toBe(401);
      expect((await post(rotated.body.ingestUrl, webhook.body, webhook.headers)).status).toBe(202);
      source = rotated.body;
    });

    it('keeps the old URL working for the overlap a rotation asks for, and no longer', async () => {
      const before = source;
      const rotated = await admin('POST', `/v1/sources/${source.id}/rotate-ingest-token`, {
        body: { previousValidForSeconds: 1 },
      });
      expect(rotated.status).toBe(200);
      const during = buildSeatableWebhook({ ...seatableRowData, op_time: 1649923100 }, { secret });
      expect((await post(before.ingestUrl, during.body, during.headers)).status).toBe(202);
      expect((await post(rotated.body.ingestUrl, during.body, during.headers)).status).toBe(202);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const after = buildSeatableWebhook({ ...seatableRowData, op_time: 1649923200 }, { secret });
      expect((await post(before.ingestUrl, after.body, after.headers)).status).toBe(401);
      // A longer one than a day is refused; another rotation ends an overlap.
      const tooLong = await admin('POST', `/v1/sources/${source.id}/rotate-ingest-token`, {
        body: { previousValidForSeconds: 86_401 },
      });
      expect(tooLong.status).toBe(400);
      const again = await admin('POST', `/v1/sources/${source.id}/rotate-ingest-token`, {
        body: { previousValidForSeconds: 60 },
      });
      await admin('POST', `/v1/sources/${source.id}/rotate-ingest-token`);
      expect((await post(again.body.ingestUrl, after.body, after.headers)).status).toBe(401);
      source = (await admin('POST', `/v1/sources/${source.id}/rotate-ingest-token`)).body;
    });
  });

  describe('Jellyfish', () => {
    const signingSecret = 'fishjam-signing-secret';
    let plain: { id: string; ingestUrl: string };
    let signed: { id: string; ingestUrl: string };
    const protobuf = { 'content-type': 'application/x-protobuf' };

    beforeAll(async () => {
      plain = (
        await admin('POST', '/v1/sources', {
          body: { name: 'media', provider: 'jellyfish', mode: 'webhook' },
        })
      ).body;
      signed = (
        await admin('POST', '/v1/sources', {
          body: { name: 'cloud', provider: 'jellyfish', mode: 'webhook', config: { signingSecret } },
        })
      ).body;
    });

    it('stores a protobuf batch in order, each notification with its own bytes', async () => {
      const messages = [
        encodeServerMessage({ case: 'roomCreated', value: { roomId: 'r1' } }),
        encodeServerMessage({ case: 'peerConnected', value: { roomId: 'r1', peerId: 'p1' } }),
        encodeServerMessage({
          case: 'trackAdded',
          value: {
            roomId: 'r1',
            endpointInfo: { case: 'peerId', value: 'p1' },
            track: { id: 't1', type: ServerMessage_TrackType.AUDIO, metadata: '{"lang":"fr"}' },
          },
        }),
      ];
      const response = await post(plain.ingestUrl, encodeNotificationBatch(messages), protobuf);
      expect(response.status).toBe(202);
      expect(response.body.accepted).toBe(3);
      const listed = await admin('GET', `/v1/events?source=${plain.id}`);
      expect(listed.body.data.map((e: { type: string; subject: string }) => [e.type, e.subject])).toEqual([
        ['jellyfish.room.created', 'rooms/r1'],
        ['jellyfish.peer.connected', 'rooms/r1/peers/p1'],
        ['jellyfish.track.added', 'rooms/r1/peers/p1'],
      ]);
      expect(listed.body.data[2].data.track).toEqual({ id: 't1', type: 'audio', metadata: { lang: 'fr' } });
      const raw = await admin('GET', `/v1/events/${response.body.ids[1]}?include=raw`);
      expect(raw.body.rawEncoding).toBe('base64');
      expect(Buffer.from(raw.body.raw, 'base64')).toEqual(Buffer.from(messages[1]!));
    });

    it('refuses a batch of more than 1,000 notifications with 413, storing nothing', async () => {
      const message = encodeServerMessage({ case: 'roomCreated', value: { roomId: 'flood' } });
      await refusedStoringNothing(
        plain,
        encodeNotificationBatch(Array.from({ length: 1_001 }, () => message)),
        protobuf,
        { status: 413, code: 'payload_too_large', detail: '1001' },
      );
    });

    it('stores a batch whose strings hold NUL (jsonb refuses it) with U+FFFD, keeping each raw message', async () => {
      const messages = [
        encodeServerMessage({ case: 'roomCreated', value: { roomId: 'r\u0000n' } }),
        encodeServerMessage({
          case: 'peerMetadataUpdated',
          value: { roomId: 'r3', peerId: 'p3', metadata: '{"k\\u0000": "v\\u0000"}' },
        }),
      ];
      const response = await post(plain.ingestUrl, encodeNotificationBatch(messages), protobuf);
      expect(response.status).toBe(202);
      const [room, peer] = await Promise.all(
        response.body.ids.map(
          async (id: string) => (await admin('GET', `/v1/events/${id}?include=raw`)).body,
        ),
      );
      expect(room).toMatchObject({ subject: 'rooms/r\ufffdn', data: { roomId: 'r\ufffdn' } });
      expect(Buffer.from(room.raw, 'base64')).toEqual(Buffer.from(messages[0]!));
      expect(peer.data.metadata).toEqual({ 'k\ufffd': 'v\ufffd' });
    });

    it('stores every notification of a batch when a peer sets metadata nested deeper than 64 levels', async () => {
      const deep = `${'['.repeat(70)}${']'.repeat(70)}`;
      const messages = [
        encodeServerMessage({ case: 'roomCreated', value: { roomId: 'deep-before' } }),
        encodeServerMessage({
          case: 'peerMetadataUpdated',
          value: { roomId: 'deep', peerId: 'p', metadata: deep },
        }),
        encodeServerMessage({ case: 'roomDeleted', value: { roomId: 'deep-after' } }),
      ];
      const response = await post(plain.ingestUrl, encodeNotificationBatch(messages), protobuf);
      expect(response.status).toBe(202);
      expect(response.body.accepted).toBe(3);
      const peer = (await admin('GET', `/v1/events/${response.body.ids[1]}?include=raw`)).body;
      expect(peer.type).toBe('jellyfish.peer.metadata_updated');
      expect(JSON.stringify(peer.data.metadata)).toContain(JSON.stringify(CUT_TOO_DEEP));
      expect(Buffer.from(peer.raw, 'base64')).toEqual(Buffer.from(messages[1]!));
    });

    it('accepts v0.3 JSON bodies', async () => {
      const body = encodeV03JsonBody(encodeServerMessage({ case: 'roomDeleted', value: { roomId: 'r9' } }));
      const response = await post(plain.ingestUrl, body, { 'content-type': 'application/json' });
      expect(response.status).toBe(202);
      expect((await admin('GET', `/v1/events/${response.body.ids[0]}`)).body.type).toBe(
        'jellyfish.room.deleted',
      );
    });

    it('checks Fishjam signatures and refuses undecodable bytes, storing nothing', async () => {
      const body = encodeServerMessage({ case: 'roomCrashed', value: { roomId: 'r2' } });
      const good = await post(signed.ingestUrl, body, {
        ...protobuf,
        'x-fishjam-signature-256': fishjamSignature(body, signingSecret),
      });
      expect(good.status).toBe(202);
      const bad = await post(signed.ingestUrl, body, {
        ...protobuf,
        'x-fishjam-signature-256': fishjamSignature(body, 'other'),
      });
      expect(bad.body.code).toBe('invalid_signature');
      expect((await post(signed.ingestUrl, body, protobuf)).body.code).toBe('missing_signature');
      const before = await eventCount(plain.id);
      const truncated = await post(
        plain.ingestUrl,
        encodeNotificationBatch([body, body]).slice(0, -3),
        protobuf,
      );
      expect({ status: truncated.status, code: truncated.body.code }).toEqual({
        status: 400,
        code: 'invalid_body',
      });
      const garbage = await post(plain.ingestUrl, new Uint8Array([0xff, 0xff, 0xff, 0x0f]), protobuf);
      expect(garbage.status).toBe(400);
      expect(await eventCount(plain.id)).toBe(before);
    });

    it('refuses an empty body (a probe, never a notification) with 400 empty_body, signed or not, storing nothing', async () => {
      const empty = new Uint8Array(0);
      const signature = { 'x-fishjam-signature-256': fishjamSignature(empty, signingSecret) };
      const before = [await eventCount(plain.id), await eventCount(signed.id)];
      const cases: Array<[string, Record<string, string>]> = [
        [plain.ingestUrl, protobuf],
        [plain.ingestUrl, { 'content-type': 'application/json' }],
        [signed.ingestUrl, { ...protobuf, ...signature }],
      ];
      for (const [url, headers] of cases) {
        const response = await post(url, empty, headers);
        expect({ status: response.status, code: response.body.code }).toEqual({
          status: 400,
          code: 'empty_body',
        });
      }
      expect([await eventCount(plain.id), await eventCount(signed.id)]).toEqual(before);
    });
  });

  describe('source administration', () => {
    it.each([
      [{ name: 'x', provider: 'slack', mode: 'webhook' }, 'provider'],
      [{ name: 'x', provider: 'seatable', mode: 'poll' }, 'mode'],
      [
        { name: 'x', provider: 'seatable', mode: 'stream', config: { serverUrl: 'not a url' } },
        'config.serverUrl',
      ],
      [{ name: 'x', provider: 'seatable', mode: 'webhook', config: { secret: 5 } }, 'config.secret'],
      [
        { name: 'x', provider: 'jellyfish', mode: 'stream', config: { serverUrl: 'http://jf' } },
        'config.serverApiToken',
      ],
      [{ name: 'x', provider: 'jellyfish', mode: 'webhook', config: 'secret' }, 'config'],
      [{ name: 'x', provider: 'jellyfish', mode: 'webhook', extra: 1 }, 'extra'],
    ])('refuses %j naming %s', async (body, field) => {
      const response = await admin('POST', '/v1/sources', { body });
      expect(response.status).toBe(400);
      expect(response.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it('lets concurrent changes to a source each keep what they wrote, and a deleted source stay deleted', async () => {
      const created = await admin('POST', '/v1/sources', {
        body: { name: 'racy', provider: 'jellyfish', mode: 'webhook' },
      });
      const id = created.body.id;
      const rename = (n: number) => admin('PATCH', `/v1/sources/${id}`, { body: { name: `racy-${n}` } });
      const [rotated] = await Promise.all([
        admin('POST', `/v1/sources/${id}/rotate-ingest-token`),
        ...Array.from({ length: 8 }, (_, n) => rename(n)),
      ]);
      // The masked URL shows the token's first characters: the rotation's, not the one it replaced.
      const token = rotated.body.ingestUrl.split('/').pop() as string;
      const shown = (await admin('GET', `/v1/sources/${id}`)).body.ingestUrl as string;
      expect(shown.split('/').pop()).toBe(`${token.slice(0, 9)}****`);

      const answers = await Promise.all([
        admin('DELETE', `/v1/sources/${id}`),
        ...Array.from({ length: 8 }, (_, n) => rename(n)),
      ]);
      expect(answers[0]!.status).toBe(204);
      expect(answers.slice(1).every((a) => a.status === 200 || a.status === 404)).toBe(true);
      expect((await admin('GET', `/v1/sources/${id}`)).status).toBe(404);
    });

    it('merges a PATCHed config into the stored one, so adding toast settings keeps the signature check', async () => {
      const secret = 'merge-secret-1';
      const created = await admin('POST', '/v1/sources', {
        body: { name: 'merged', provider: 'seatable', mode: 'webhook', config: { secret } },
      });
      const unsigned = buildSeatableWebhook(seatableRowData);
      const patched = await admin('PATCH', `/v1/sources/${created.body.id}`, {
        body: { config: { serverUrl: 'http://127.0.0.1:9', apiToken: 'toast-api-token' } },
      });
      expect(patched.status).toBe(200);
      expect(patched.body.config).toEqual({
        secret: expect.stringContaining('****'),
        serverUrl: 'http://127.0.0.1:9',
        apiToken: expect.stringContaining('****'),
      });
      expect((await post(created.body.ingestUrl, unsigned.body, unsigned.headers)).status).toBe(401);
      const signed = buildSeatableWebhook(seatableRowData, { secret });
      expect((await post(created.body.ingestUrl, signed.body, signed.headers)).status).toBe(202);
      // The stored token is not sent to another server unless it is given again.
      const moved = await admin('PATCH', `/v1/sources/${created.body.id}`, {
        body: { config: { serverUrl: 'https://elsewhere.example' } },
      });
      expect(moved.status).toBe(400);
      expect(moved.body.errors).toEqual([
        {
          field: 'config.apiToken',
          message: expect.stringContaining('must be given again when config.serverUrl changes'),
        },
      ]);
      // Nor is the mask GET shows taken for the token: it would replace it.
      const remasked = await admin('PATCH', `/v1/sources/${created.body.id}`, {
        body: { config: { serverUrl: 'https://elsewhere.example', apiToken: patched.body.config.apiToken } },
      });
      expect(remasked.body.errors).toEqual([
        { field: 'config.apiToken', message: expect.stringContaining('is the masked value GET shows') },
      ]);
      const movedWithToken = await admin('PATCH', `/v1/sources/${created.body.id}`, {
        body: { config: { serverUrl: 'https://elsewhere.example', apiToken: 'its-own-token' } },
      });
      expect(movedWithToken.body.config.serverUrl).toBe('https://elsewhere.example');
      // A config that changes nothing writes nothing (a new one restarts a stream).
      const unchanged = await admin('PATCH', `/v1/sources/${created.body.id}`, {
        body: { config: { serverUrl: 'https://elsewhere.example' } },
      });
      expect(unchanged.body.updatedAt).toBe(movedWithToken.body.updatedAt);
      // Concurrent changes of the config each merge into what the other wrote.
      const db = new pg.Client({ connectionString: herald.databaseUrl });
      await db.connect();
      const stored = async () =>
        (
          await db.query(
            `SELECT config->>'apiToken' AS "apiToken", config->>'secret' AS secret FROM sources WHERE id = $1`,
            [created.body.id],
          )
        ).rows[0];
      try {
        for (let round = 0; round < 10; round++) {
          const patch = (config: object) =>
            admin('PATCH', `/v1/sources/${created.body.id}`, { body: { config } });
          await Promise.all([
            patch({ apiToken: `token-${round}` }),
            patch({ secret: `merge-secret-${round}` }),
          ]);
          expect(await stored()).toEqual({ apiToken: `token-${round}`, secret: `merge-secret-${round}` });
        }
      } finally {
        await db.end();
      }
      // Removing the secret takes a null, said in so many words.
      const removed = await admin('PATCH', `/v1/sources/${created.body.id}`, {
        body: { config: { secret: null } },
      });
      expect(Object.keys(removed.body.config).sort()).toEqual(['apiToken', 'serverUrl']);
      expect((await post(created.body.ingestUrl, unsigned.body, unsigned.headers)).status).toBe(202);
    });

    it('refuses a Host header that is no host and port, which would misplace the token in the ingest URL', async () => {
      const body = JSON.stringify({ name: 'h', provider: 'jellyfish', mode: 'webhook' });
      const request = (host: string) =>
        rawExchange(
          herald.baseUrl,
          `POST /v1/sources HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${herald.adminToken}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        );
      const refused = splitRawAnswer(await request('a/b?c#d'));
      expect(refused.head).toMatch(/^HTTP\/1\.1 400 /);
      expect(refused.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'host' }] });
      const created = splitRawAnswer(await request('herald.example:8443'));
      expect(created.body.ingestUrl).toMatch(/^http:\/\/herald\.example:8443\/v1\/ingest\/[^/]+\/hing_/);
    });

    it('updates, lists and deletes sources; unknown ones are 404', async () => {
      const created = await admin('POST', '/v1/sources', {
        body: { name: 'tmp', provider: 'jellyfish', mode: 'webhook' },
      });
      const patched = await admin('PATCH', `/v1/sources/${created.body.id}`, {
        body: { name: 'renamed', config: { signingSecret: 'abcdefgh12' } },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({
        name: 'renamed',
        config: { signingSecret: expect.stringContaining('****') },
      });
      expect(
        (await admin('PATCH', `/v1/sources/${created.body.id}`, { body: { provider: 'seatable' } })).status,
      ).toBe(400);
      const listed = await admin('GET', '/v1/sources?limit=500');
      expect(listed.body.data.map((s: { id: string }) => s.id)).toContain(created.body.id);
      expect((await admin('DELETE', `/v1/sources/${created.body.id}`)).status).toBe(204);
      expect((await admin('GET', `/v1/sources/${created.body.id}`)).status).toBe(404);
      expect((await admin('GET', '/v1/sources/nope')).status).toBe(404);
      expect((await admin('POST', `/v1/sources/${created.body.id}/toasts`, { body: {} })).status).toBe(404);
    });
  });
});
