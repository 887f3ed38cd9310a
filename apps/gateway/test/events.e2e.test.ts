import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { EVENT_LOG_READS } from '../src/events/event-log-reads.js';
import { EventRepository } from '../src/events/event.repository.js';
import { apiClient, type ApiResponse } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('event log (/v1/events)', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;
  let publisher: ReturnType<typeof apiClient>;
  let publisherKeyId: string;

  beforeAll(async () => {
    herald = await startTestApp();
    admin = apiClient(herald.baseUrl, herald.adminToken);
    const key = await admin('POST', '/v1/api-keys', { body: { name: 'pub', scopes: ['publish'] } });
    publisher = apiClient(herald.baseUrl, key.body.token);
    publisherKeyId = key.body.id;
  });
  afterAll(() => herald.close());

  it('reads the log for at most a few list requests at once, key by key in turn, and publishing goes on', async () => {
    const slowKey = (
      await admin('POST', '/v1/api-keys', { body: { name: 'slow lists', scopes: ['subscribe'] } })
    ).body.token;
    const otherKey = (await admin('POST', '/v1/api-keys', { body: { name: 'other', scopes: ['subscribe'] } }))
      .body.token;
    const events = herald.app.get(EventRepository);
    const query = events.query.bind(events);
    let reading = 0;
    let mostReading = 0;
    // Every read takes 100 ms, as a list over a large log may.
    jest.spyOn(events, 'query').mockImplementation(async (options) => {
      mostReading = Math.max(mostReading, ++reading);
      await new Promise((resolve) => setTimeout(resolve, 100));
      return query(options).finally(() => reading--);
    });
    try {
      const flood = Promise.all(
        Array.from({ length: 24 }, () => apiClient(herald.baseUrl, slowKey)('GET', '/v1/events?limit=1')),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Publishing does not wait for the lists; another key's list waits for a few of them, not all 24.
      const started = Date.now();
      expect((await publisher('POST', '/v1/events', { body: { type: 'during.lists' } })).status).toBe(201);
      expect((await apiClient(herald.baseUrl, otherKey)('GET', '/v1/events?limit=1')).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect((await flood).every((answer) => answer.status === 200)).toBe(true);
      expect(mostReading).toBe(EVENT_LOG_READS);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('publishes an event and returns the stored CloudEvents envelope', async () => {
    const published = await publisher('POST', '/v1/events', {
      body: { type: 'billing.invoice.paid', subject: 'invoices/42', data: { amount: 12.5, currency: 'EUR' } },
    });
    expect(published.status).toBe(201);
    const event = published.body;
    expect(event).toEqual({
      specversion: '1.0',
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      seq: expect.stringMatching(/^\d+$/),
      type: 'billing.invoice.paid',
      source: `/api-keys/${publisherKeyId}`,
      subject: 'invoices/42',
      time: expect.any(String),
      receivedat: expect.any(String),
      datacontenttype: 'application/json',
      provider: 'custom',
      sourceid: publisherKeyId,
      data: { amount: 12.5, currency: 'EUR' },
    });
    expect(event.time).toBe(event.receivedat);
    const fetched = await admin('GET', `/v1/events/${event.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(event);
  });

  it('keeps a given time and lets subscribe keys read but not publish', async () => {
    const reader = await admin('POST', '/v1/api-keys', { body: { name: 'r', scopes: ['subscribe'] } });
    const read = apiClient(herald.baseUrl, reader.body.token);
    const published = await publisher('POST', '/v1/events', {
      body: { type: 'a.b', time: '2022-04-14T09:47:02.589Z' },
    });
    expect(published.body.time).toBe('2022-04-14T09:47:02.589Z');
    expect((await read('GET', `/v1/events/${published.body.id}`)).status).toBe(200);
    expect((await read('POST', '/v1/events', { body: { type: 'a.b' } })).status).toBe(403);
    expect((await publisher('GET', '/v1/events')).status).toBe(403);
    expect((await apiClient(herald.baseUrl)('GET', `/v1/events/${published.body.id}`)).status).toBe(401);
  });

  it('keeps a far-future time to the millisecond, as stored and as its own bound', async () => {
    const time = '5000-06-01T12:00:00.015Z';
    const published = await publisher('POST', '/v1/events', { body: { type: 'far.future', time } });
    expect(published.body.time).toBe(time);
    expect((await admin('GET', `/v1/events/${published.body.id}`)).body.time).toBe(time);
    const listed = await admin('GET', `/v1/events?type=far.future&since=${time}`);
    expect(listed.body.data.map((e: { id: string }) => e.id)).toEqual([published.body.id]);
    expect((await admin('GET', `/v1/events?type=far.future&until=${time}`)).body.data).toEqual([]);
  });

  it('stores an Idempotency-Key once and replays the first answer', async () => {
    const body = { type: 'orders.created', data: { id: 7 } };
    const headers = { 'idempotency-key': 'order-7' };
    const first = await publisher('POST', '/v1/events', { body, headers });
    const second = await publisher('POST', '/v1/events', { body, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    const conflicting = await publisher('POST', '/v1/events', {
      body: { ...body, data: { id: 8 } },
      headers,
    });
    expect(conflicting.status).toBe(409);
    expect(conflicting.body.code).toBe('idempotency_conflict');
    const listed = await admin('GET', `/v1/events?type=orders.created`);
    expect(listed.body.data).toHaveLength(1);
    // A JSON null subject is no subject, the first time and when repeated.
    const nullSubject = {
      body: { type: 'orders.voided', subject: null },
      headers: { 'idempotency-key': 'void-7' },
    };
    expect((await publisher('POST', '/v1/events', nullSubject)).status).toBe(201);
    expect((await publisher('POST', '/v1/events', nullSubject)).status).toBe(200);
  });

  it('takes a repeated Idempotency-Key with another time as a different event', async () => {
    const timed = (time?: string) => ({
      body: { type: 'orders.shipped', data: { id: 9 }, ...(time && { time }) },
      headers: { 'idempotency-key': 'ship-9' },
    });
    expect((await publisher('POST', '/v1/events', timed('2026-01-01T00:00:00.000Z'))).status).toBe(201);
    // The same instant in another offset, and no time at all, are the same request.
    expect((await publisher('POST', '/v1/events', timed('2026-01-01T01:00:00+01:00'))).status).toBe(200);
    expect((await publisher('POST', '/v1/events', timed())).status).toBe(200);
    const later = await publisher('POST', '/v1/events', timed('2026-01-02T00:00:00.000Z'));
    expect(later.status).toBe(409);
    expect(later.body.code).toBe('idempotency_conflict');
  });

  it('publishes data of 80,000 keys in one object', async () => {
    // class-transformer's key dedup was quadratic: 75,000 keys held the event loop for 6–11 s (see
    // class-transformer-patch.test.ts, which counts rather than times it).
    const data = Object.fromEntries(Array.from({ length: 80_000 }, (_, i) => [`k${i}`, 0]));
    const published = await publisher('POST', '/v1/events', { body: { type: 'wide.data', data } });
    expect(published.status).toBe(201);
    const stored = await admin('GET', `/v1/events/${published.body.id}`);
    expect(stored.body.data).toEqual(data);
  });

  it('refuses text Postgres cannot store, naming its field, and stores the publishes beside it', async () => {
    const clean = Array.from({ length: 20 }, (_, i) =>
      publisher('POST', '/v1/events', { body: { type: 'beside.nul', data: { i } } }),
    );
    const refused = publisher('POST', '/v1/events', {
      body: { type: 'beside.nul', subject: 'lone \ud800', data: { text: 'a\u0000b' } },
    });
    expect((await Promise.all(clean)).map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(await refused).toMatchObject({
      status: 400,
      body: {
        code: 'validation_failed',
        errors: [
          { field: 'subject', message: expect.stringContaining('surrogate') },
          { field: 'data', message: expect.stringContaining('NUL') },
        ],
      },
    });
  });

  it('returns the raw payload on request', async () => {
    const published = await publisher('POST', '/v1/events', { body: { type: 'raw.check' } });
    const withRaw = await admin('GET', `/v1/events/${published.body.id}?include=raw`);
    expect(withRaw.status).toBe(200);
    expect(withRaw.body).toMatchObject({ id: published.body.id, raw: null, rawContentType: null });
    expect((await admin('GET', `/v1/events/${published.body.id}?include=everything`)).status).toBe(400);
  });

  describe('bad input answers 4xx problem+json', () => {
    type BadInput = [string, () => Promise<ApiResponse>, number, string];
    const cases: BadInput[] = [
      [
        'malformed JSON',
        () =>
          publisher('POST', '/v1/events', {
            rawBody: '{"type": "a.b",',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'invalid_json',
      ],
      ...[
        ['an overlong encoding', [0xc0, 0xaf]],
        ['a lone surrogate in CESU-8', [0xed, 0xa0, 0x80]],
        ['a cut-off sequence', [0xe2, 0x82]],
      ].map(([name, bytes]): BadInput => [
        `invalid UTF-8 in a JSON body (${name})`,
        () =>
          publisher('POST', '/v1/events', {
            rawBody: Buffer.concat([
              Buffer.from('{"type": "a.b", "data": {"text": "'),
              Buffer.from(bytes as number[]),
              Buffer.from('"}}'),
            ]),
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'invalid_json',
      ]),
      [
        'a number too large for a 64-bit float',
        () =>
          publisher('POST', '/v1/events', {
            rawBody: '{"type": "a.b", "data": {"n": [1, 1e999999]}}',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'validation_failed',
      ],
      [
        'an empty JSON body',
        () =>
          publisher('POST', '/v1/events', { rawBody: '', headers: { 'content-type': 'application/json' } }),
        400,
        'validation_failed',
      ],
      [
        'an unknown field',
        () => publisher('POST', '/v1/events', { body: { type: 'a.b', colour: 'red' } }),
        400,
        'validation_failed',
      ],
      [
        'a missing type',
        () => publisher('POST', '/v1/events', { body: { data: {} } }),
        400,
        'validation_failed',
      ],
      [
        'a malformed type',
        () => publisher('POST', '/v1/events', { body: { type: 'Not A Type' } }),
        400,
        'validation_failed',
      ],
      [
        'a reserved type',
        () => publisher('POST', '/v1/events', { body: { type: 'herald.source.connected' } }),
        400,
        'validation_failed',
      ],
      [
        'an empty subject (CloudEvents: leave it out)',
        () => publisher('POST', '/v1/events', { body: { type: 'a.b', subject: '' } }),
        400,
        'validation_failed',
      ],
      [
        'data that is not an object',
        () => publisher('POST', '/v1/events', { body: { type: 'a.b', data: [1] } }),
        400,
        'validation_failed',
      ],
      [
        'a NUL character in data',
        () => publisher('POST', '/v1/events', { body: { type: 'a.b', data: { text: 'a\u0000b' } } }),
        400,
        'validation_failed',
      ],
      [
        'data nested deeper than 64 levels',
        () =>
          publisher('POST', '/v1/events', {
            rawBody: `{"type":"a.b","data":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`,
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'validation_failed',
      ],
      [
        'an unknown field nested deeper than 64 levels',
        () =>
          publisher('POST', '/v1/events', {
            rawBody: `{"type":"a.b","extra":${'['.repeat(5_000)}${']'.repeat(5_000)}}`,
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'validation_failed',
      ],
      [
        'a time without its offset',
        () => publisher('POST', '/v1/events', { body: { type: 'a.b', time: '2026-12-07T12:00:00' } }),
        400,
        'validation_failed',
      ],
      [
        'a bad time',
        () => publisher('POST', '/v1/events', { body: { type: 'a.b', time: 'yesterday' } }),
        400,
        'validation_failed',
      ],
      [
        'a JSON array body',
        () => publisher('POST', '/v1/events', { body: [{ type: 'a.b' }] }),
        400,
        'validation_failed',
      ],
      [
        'an unsupported content type',
        () =>
          publisher('POST', '/v1/events', {
            rawBody: 'type=a.b',
            headers: { 'content-type': 'application/xml' },
          }),
        415,
        'unsupported_media_type',
      ],
      [
        'a too long Idempotency-Key',
        () =>
          publisher('POST', '/v1/events', {
            body: { type: 'a.b' },
            headers: { 'idempotency-key': 'k'.repeat(256) },
          }),
        400,
        'validation_failed',
      ],
      [
        'a body over the size limit',
        () =>
          publisher('POST', '/v1/events', { body: { type: 'a.b', data: { blob: 'x'.repeat(1_100_000) } } }),
        413,
        'payload_too_large',
      ],
      ['a bad type filter', () => admin('GET', '/v1/events?type=seatable..row'), 400, 'invalid_filter'],
      [
        'a ** in the middle of a filter',
        () => admin('GET', '/v1/events?type=seatable.**.x'),
        400,
        'invalid_filter',
      ],
      [
        'a source filter that is not an id',
        () => admin('GET', '/v1/events?source=abc'),
        400,
        'invalid_filter',
      ],
      ['a garbage cursor', () => admin('GET', '/v1/events?cursor=%%%'), 400, 'invalid_cursor'],
      [
        'a cursor from another list',
        () => admin('GET', `/v1/events?cursor=${Buffer.from('["api-keys","1"]').toString('base64url')}`),
        400,
        'invalid_cursor',
      ],
      [
        'an unknown after id',
        () => admin('GET', '/v1/events?after=01a20908-12fe-72dd-bcfb-85f9c4aed6b5'),
        400,
        'invalid_cursor',
      ],
      ['a malformed after', () => admin('GET', '/v1/events?after=yesterday'), 400, 'invalid_cursor'],
      [
        'an after beyond the newest event',
        () => admin('GET', '/v1/events?after=999999999999'),
        400,
        'invalid_cursor',
      ],
      ['a bad since', () => admin('GET', '/v1/events?since=monday'), 400, 'validation_failed'],
      [
        'a since without its offset',
        () => admin('GET', '/v1/events?since=2026-12-07%2012:00:00'),
        400,
        'validation_failed',
      ],
      ['a limit over 500', () => admin('GET', '/v1/events?limit=501'), 400, 'validation_failed'],
      ['a limit that is not a number', () => admin('GET', '/v1/events?limit=ten'), 400, 'validation_failed'],
      ...['1e2', '0x10', '%205', '5.0', '1&limit=2'].map((limit): BadInput => [
        `a limit written ${decodeURIComponent(limit)}`,
        () => admin('GET', `/v1/events?limit=${limit}`),
        400,
        'validation_failed',
      ]),
      ['an unknown query parameter', () => admin('GET', '/v1/events?colour=red'), 400, 'validation_failed'],
      [
        'an unknown event id',
        () => admin('GET', '/v1/events/01a20908-12fe-72dd-bcfb-85f9c4aed6b5'),
        404,
        'not_found',
      ],
      ['a malformed event id', () => admin('GET', '/v1/events/not-a-uuid'), 404, 'not_found'],
      [
        'a JSON string as the body',
        () =>
          admin('POST', '/v1/endpoints', { rawBody: '"x"', headers: { 'content-type': 'application/json' } }),
        400,
        'validation_failed',
      ],
      ...(['url', 'description', 'enabled', 'filter'] as const).map((field): BadInput => [
        `a null ${field} in an endpoint update`,
        () =>
          admin('PATCH', '/v1/endpoints/01a20908-12fe-72dd-bcfb-85f9c4aed6b5', { body: { [field]: null } }),
        400,
        'validation_failed',
      ]),
      [
        'a filter that is an array',
        () => admin('POST', '/v1/endpoints', { body: { url: 'https://example.com/h', filter: [] } }),
        400,
        'validation_failed',
      ],
      ...(['name', 'config', 'enabled'] as const).map((field): BadInput => [
        `a null ${field} in a source update`,
        () => admin('PATCH', '/v1/sources/01a20908-12fe-72dd-bcfb-85f9c4aed6b5', { body: { [field]: null } }),
        400,
        'validation_failed',
      ]),
      ...(['endpoints', 'sources', 'api-keys'] as const).map((list): BadInput => [
        `a crafted ${list} cursor`,
        () =>
          admin(
            'GET',
            `/v1/${list}?cursor=${Buffer.from(JSON.stringify([list, 'zzz'])).toString('base64url')}`,
          ),
        400,
        'invalid_cursor',
      ]),
      ['an unknown route', () => admin('GET', '/v1/nothing-here'), 404, 'not_found'],
      ['a method the route does not take', () => admin('PUT', '/v1/events'), 405, 'method_not_allowed'],
      // The router is strict about a trailing slash: no route takes the path, whatever the method.
      ['a route with a trailing slash', () => admin('GET', '/v1/events/'), 404, 'not_found'],
      [
        'a method a route with a parameter does not take',
        () => admin('POST', '/v1/events/01a20908-12fe-72dd-bcfb-85f9c4aed6b5?include=raw'),
        405,
        'method_not_allowed',
      ],
      [
        'malformed percent-encoding in the URL',
        () => admin('GET', '/v1/events/%ff'),
        400,
        'validation_failed',
      ],
    ];
    it('names the methods a route takes in Allow when it answers 405', async () => {
      const response = await admin('DELETE', '/v1/events');
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD, POST');
      expect(
        (await admin('PUT', '/v1/endpoints/01a20908-12fe-72dd-bcfb-85f9c4aed6b5')).headers.get('allow'),
      ).toBe('DELETE, GET, HEAD, PATCH');
    });

    it.each(cases)('%s', async (_name, request, status, code) => {
      const response = await request();
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body).toMatchObject({
        status,
        code,
        type: expect.stringContaining(code),
        title: expect.any(String),
        detail: expect.any(String),
        errors: expect.any(Array),
      });
    });
  });

  describe('listing', () => {
    let source: string;
    let ids: string[];

    beforeAll(async () => {
      const key = await admin('POST', '/v1/api-keys', { body: { name: 'list-src', scopes: ['publish'] } });
      source = key.body.id;
      const own = apiClient(herald.baseUrl, key.body.token);
      ids = [];
      const types = [
        'shop.order.created',
        'shop.order.paid',
        'shop.refund.created',
        'shop.order.line.added',
        'shop',
      ];
      for (const [i, type] of types.entries()) {
        const r = await own('POST', '/v1/events', {
          body: { type, time: `2030-01-0${i + 1}T00:00:00.000Z` },
        });
        ids.push(r.body.id);
      }
    });

    const typesOf = (body: { data: Array<{ type: string }> }) => body.data.map((e) => e.type);

    it('filters by type patterns and sources, in seq order', async () => {
      const q = (query: string) => admin('GET', `/v1/events?source=${source}&${query}`);
      expect(typesOf((await q('type=shop.order.*')).body)).toEqual(['shop.order.created', 'shop.order.paid']);
      expect(typesOf((await q('type=shop.**')).body)).toEqual([
        'shop.order.created',
        'shop.order.paid',
        'shop.refund.created',
        'shop.order.line.added',
      ]);
      expect(typesOf((await q('type=*.*.created')).body)).toEqual([
        'shop.order.created',
        'shop.refund.created',
      ]);
      expect(typesOf((await q('type=shop&type=shop.order.paid')).body)).toEqual(['shop.order.paid', 'shop']);
      expect(typesOf((await q('type=shop,shop.order.paid')).body)).toEqual(['shop.order.paid', 'shop']);
      const all = await q('');
      const seqs = all.body.data.map((e: { seq: string }) => BigInt(e.seq));
      expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : 1)));
      expect(all.body.data.map((e: { id: string }) => e.id)).toEqual(ids);
    });

    it('starts after an event id or a seq, and filters by time', async () => {
      const all = (await admin('GET', `/v1/events?source=${source}`)).body.data;
      const byId = await admin('GET', `/v1/events?source=${source}&after=${ids[2]}`);
      expect(byId.body.data.map((e: { id: string }) => e.id)).toEqual(ids.slice(3));
      const bySeq = await admin('GET', `/v1/events?source=${source}&after=${all[3].seq}`);
      expect(bySeq.body.data.map((e: { id: string }) => e.id)).toEqual(ids.slice(4));
      const window = await admin(
        'GET',
        `/v1/events?source=${source}&since=2030-01-02T00:00:00.000Z&until=2030-01-04T00:00:00.000Z`,
      );
      expect(window.body.data.map((e: { id: string }) => e.id)).toEqual(ids.slice(1, 3));
    });

    it('bounds time ranges finer than a millisecond as given, rounding none of them down', async () => {
      // The first event's time is 2030-01-01T00:00:00.000Z: half a millisecond later is after it.
      const since = await admin('GET', `/v1/events?source=${source}&since=2030-01-01T00:00:00.0005Z`);
      expect(since.body.data.map((e: { id: string }) => e.id)).toEqual(ids.slice(1));
      const until = await admin('GET', `/v1/events?source=${source}&until=2030-01-01T00:00:00.0005Z`);
      expect(until.body.data.map((e: { id: string }) => e.id)).toEqual(ids.slice(0, 1));
    });

    it('refuses a since that is not before until, naming until', async () => {
      for (const [since, until] of [
        ['2027-01-01T00:00:00Z', '2026-01-01T00:00:00Z'],
        ['2030-01-02T00:00:00.000Z', '2030-01-02T00:00:00Z'],
      ]) {
        const response = await admin('GET', `/v1/events?source=${source}&since=${since}&until=${until}`);
        expect(response.status).toBe(400);
        expect(response.body).toMatchObject({
          code: 'validation_failed',
          errors: [{ field: 'until', message: 'must be after since' }],
        });
      }
    });

    it('starts a page after the later of cursor and after, so repeating after is harmless', async () => {
      const idsOf = (body: { data: Array<{ id: string }> }) => body.data.map((e) => e.id);
      const first = await admin('GET', `/v1/events?source=${source}&limit=2&after=${ids[0]}`);
      expect(idsOf(first.body)).toEqual(ids.slice(1, 3));
      const page = (query: string) =>
        admin('GET', `/v1/events?source=${source}&limit=2&cursor=${first.body.nextCursor}&${query}`);
      // The first request's after, repeated with its cursor: the cursor is further on.
      expect(idsOf((await page(`after=${ids[0]}`)).body)).toEqual(ids.slice(3, 5));
      // An after beyond the cursor is not ignored.
      expect(idsOf((await page(`after=${ids[3]}`)).body)).toEqual(ids.slice(4));
      const unknown = await page('after=01a20908-12fe-72dd-bcfb-85f9c4aed6b5');
      expect(unknown.status).toBe(400);
      expect(unknown.body).toMatchObject({ code: 'invalid_cursor', errors: [{ field: 'after' }] });
    });

    it('refuses a cursor sent with other filters than its page, or alone, and takes the same filters however spelled', async () => {
      const first = await admin('GET', `/v1/events?source=${source}&limit=2&since=2000-01-01T00:00:00Z`);
      const cursor = first.body.nextCursor;
      for (const query of [
        '',
        `source=${source}`,
        `source=${source}&since=2000-01-02T00:00:00Z`,
        `source=${source}&since=2000-01-01T00:00:00Z&type=x.*`,
      ]) {
        const refused = await admin('GET', `/v1/events?limit=2&cursor=${cursor}&${query}`);
        expect({ query, status: refused.status, body: refused.body }).toMatchObject({
          query,
          status: 400,
          body: {
            code: 'invalid_cursor',
            detail: expect.stringContaining('same type, source, since, until'),
            errors: [{ field: 'cursor', message: 'from a page with other filters' }],
          },
        });
      }
      const same = await admin(
        'GET',
        `/v1/events?source=${source.toUpperCase()}&limit=2&since=2000-01-01T01:00:00%2B01:00&cursor=${cursor}`,
      );
      expect(same.body.data.map((e: { id: string }) => e.id)).toEqual(ids.slice(2, 4));
      // A cursor of an earlier Herald (position only) still pages.
      const [, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString());
      const legacy = Buffer.from(JSON.stringify(['events', seq])).toString('base64url');
      const old = await admin('GET', `/v1/events?source=${source}&limit=2&cursor=${legacy}`);
      expect(old.body.data.map((e: { id: string }) => e.id)).toEqual(ids.slice(2, 4));
    });

    it('pages with a cursor until nextCursor is null', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { body: { data: Array<{ id: string }>; nextCursor: string | null } } = await admin(
          'GET',
          `/v1/events?source=${source}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...page.body.data.map((e) => e.id));
        cursor = page.body.nextCursor;
        pages++;
      } while (cursor);
      expect(seen).toEqual(ids);
      expect(pages).toBe(3);
    });
  });
});
