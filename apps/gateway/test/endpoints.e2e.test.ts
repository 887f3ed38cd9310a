import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { EndpointRepository } from '../src/endpoints/endpoint.repository.js';
import { apiClient } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/** A user-supplied secret: `whsec_` and canonical base64 of 32 bytes. */
const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('endpoints (/v1/endpoints)', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    herald = await startTestApp({ HERALD_ALLOW_PRIVATE_TARGETS: 'false' });
    admin = apiClient(herald.baseUrl, herald.adminToken);
  });
  afterAll(() => herald.close());

  it('creates an endpoint once per Idempotency-Key, answering a repeat with it and a different request with 409', async () => {
    const body = { url: 'https://hooks.example.com/once', filter: { types: ['once.*'] } };
    const create = (key: string, given: object = body) =>
      admin('POST', '/v1/endpoints', { body: given, headers: { 'idempotency-key': key } });
    // Sent twice at once, as a client retrying a create whose answer it is still waiting for.
    const [first, second] = await Promise.all([create('create-once-1'), create('create-once-1')]);
    expect([first.status, second.status].sort()).toEqual([200, 201]);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.secret).toBe(first.body.secret);
    const replayed = first.status === 200 ? first : second;
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    const listed = (await admin('GET', '/v1/endpoints?limit=500')).body.data;
    expect(listed.filter((e: { url: string }) => e.url === body.url)).toHaveLength(1);

    const different = await create('create-once-1', { ...body, url: 'https://hooks.example.com/other' });
    expect(different.status).toBe(409);
    expect(different.body.code).toBe('idempotency_conflict');
    expect((await create('')).status).toBe(400);
    // The overlap of a secret rotation is not a field of creation.
    const stray = await admin('POST', '/v1/endpoints', { body: { ...body, previousValidForSeconds: 0 } });
    expect(stray.status).toBe(400);
    expect((await create('create-once-2')).status).toBe(201);
  });

  it('keeps headers to send, merges changes into them and masks credentials', async () => {
    const created = await admin('POST', '/v1/endpoints', {
      body: {
        url: 'https://hooks.example.com/headers',
        headers: { 'X-Team': 'billing', 'X-Api-Key': 'k-123', Authorization: 'Bearer token-1' },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.headers).toEqual({
      'X-Team': 'billing',
      'X-Api-Key': '****',
      Authorization: 'Bear****',
    });
    const id = created.body.id;
    // Names without regard to case: x-team replaces X-Team; null removes; the key is kept as it was.
    const patched = await admin('PATCH', `/v1/endpoints/${id}`, {
      body: { headers: { 'x-team': 'payments', authorization: null, 'X-Region': 'eu' } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.headers).toEqual({ 'x-team': 'payments', 'X-Api-Key': '****', 'X-Region': 'eu' });
    expect((await admin('GET', `/v1/endpoints/${id}`)).body.headers).toEqual(patched.body.headers);
    const stored = await herald.app.get(EndpointRepository).findById(id);
    expect(stored?.headers).toEqual({ 'x-team': 'payments', 'X-Api-Key': 'k-123', 'X-Region': 'eu' });

    const refused = async (headers: unknown, field: string, method: 'POST' | 'PATCH' = 'POST') => {
      const response =
        method === 'POST'
          ? await admin('POST', '/v1/endpoints', { body: { url: 'https://hooks.example.com/h', headers } })
          : await admin('PATCH', `/v1/endpoints/${id}`, { body: { headers } });
      expect({ status: response.status, code: response.body.code }).toEqual({
        status: 400,
        code: 'validation_failed',
      });
      expect(response.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    };
    await refused({ 'Webhook-Signature': 'v1,x' }, 'headers.Webhook-Signature');
    await refused({ 'Content-Type': 'text/plain' }, 'headers.Content-Type');
    await refused({ Host: 'elsewhere' }, 'headers.Host');
    await refused({ 'X Bad': 'v' }, 'headers.X Bad');
    await refused({ 'X-Split': 'a\r\nInjected: yes' }, 'headers.X-Split');
    await refused({ 'X-Empty': '' }, 'headers.X-Empty');
    await refused({ 'X-Number': 7 }, 'headers.X-Number');
    // Null removes a header from those stored; a new endpoint has none to remove.
    await refused({ 'X-Nothing': null }, 'headers.X-Nothing');
    await refused({ 'X-A': '1', 'x-a': '2' }, 'headers.x-a');
    await refused(['X-A'], 'headers');
    // The headers as GET shows them, sent back whole: the masked key would replace the key.
    await refused(patched.body.headers, 'headers.X-Api-Key', 'PATCH');
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v']));
    await refused(many, 'headers');
    // Three stored, so eighteen more are too many.
    await refused(
      Object.fromEntries(Array.from({ length: 18 }, (_, i) => [`X-H${i}`, 'v'])),
      'headers',
      'PATCH',
    );
    expect((await herald.app.get(EndpointRepository).findById(id))?.headers).toEqual(stored?.headers);
  });

  it('creates an endpoint, shows its secret once, and never returns it in full again', async () => {
    const created = await admin('POST', '/v1/endpoints', {
      body: {
        url: 'https://hooks.example.com/herald',
        description: 'billing',
        filter: {
          types: ['seatable.row.*', 'jellyfish.**'],
          sources: ['0193b7e2-5c1a-7cc0-9a51-2b8f3e4d5a6b'],
        },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      url: 'https://hooks.example.com/herald',
      description: 'billing',
      filter: {
        types: ['seatable.row.*', 'jellyfish.**'],
        sources: ['0193b7e2-5c1a-7cc0-9a51-2b8f3e4d5a6b'],
      },
      enabled: true,
      disabledReason: null,
      previousSecretExpiresAt: null,
    });
    const secret: string = created.body.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);

    const fetched = await admin('GET', `/v1/endpoints/${created.body.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.secret).toBeUndefined();
    expect(JSON.stringify(fetched.body)).not.toContain(secret);
    expect(secret.startsWith(fetched.body.secretPrefix)).toBe(true);
    expect(fetched.body.secretPrefix).toHaveLength(10);
    const listed = await admin('GET', '/v1/endpoints?limit=500');
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(listed.body.nextCursor).toBeNull();

    const rotated = await admin('POST', `/v1/endpoints/${created.body.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(secret);
    expect(Date.parse(rotated.body.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(23 * 3600_000);

    const patched = await admin('PATCH', `/v1/endpoints/${created.body.id}`, {
      body: { enabled: false, filter: { types: ['a.b'] } },
    });
    expect(patched.body).toMatchObject({
      enabled: false,
      disabledReason: 'disabled by an operator',
      filter: { types: ['a.b'], sources: [] },
    });
    expect((await admin('DELETE', `/v1/endpoints/${created.body.id}`)).status).toBe(204);
    expect((await admin('GET', `/v1/endpoints/${created.body.id}`)).status).toBe(404);
  });

  it('changes only what a PATCH names, even when Herald changed the endpoint meanwhile', async () => {
    const created = (
      await admin('POST', '/v1/endpoints', { body: { url: 'https://hooks.example.com/race' } })
    ).body;
    // Herald disables the endpoint (its failing streak ran out) while the PATCH is under way.
    const repository = herald.app.get(EndpointRepository);
    const update = repository.update.bind(repository);
    jest.spyOn(repository, 'update').mockImplementationOnce(async (id, change) => {
      await repository.disable(id, 'every attempt failed for five days', new Date());
      return update(id, change);
    });
    try {
      const patched = await admin('PATCH', `/v1/endpoints/${created.id}`, {
        body: { description: 'renamed' },
      });
      expect(patched.status).toBe(200);
    } finally {
      jest.restoreAllMocks();
    }
    expect((await admin('GET', `/v1/endpoints/${created.id}`)).body).toMatchObject({
      description: 'renamed',
      enabled: false,
      disabledReason: 'every attempt failed for five days',
    });
  });

  it('pages endpoints with a cursor', async () => {
    for (let i = 0; i < 3; i++) {
      await admin('POST', '/v1/endpoints', { body: { url: `https://page.example.com/${i}` } });
    }
    const first = await admin('GET', '/v1/endpoints?limit=2');
    expect(first.body.data).toHaveLength(2);
    const second = await admin('GET', `/v1/endpoints?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.data.length).toBeGreaterThanOrEqual(1);
    expect(second.body.data[0].id > first.body.data[1].id).toBe(true);
  });

  it.each([
    ['not a URL', { url: 'hooks' }, 'url'],
    ['a non-http scheme', { url: 'ftp://example.com/x' }, 'url'],
    ['credentials in the URL', { url: 'https://user:pw@example.com/x' }, 'url'],
    ['an overlong URL', { url: `https://example.com/${'a'.repeat(2_100)}` }, 'url'],
    ['a URL overlong once its spaces are encoded', { url: `https://example.com/${' a'.repeat(800)}` }, 'url'],
    ['a loopback literal', { url: 'http://127.0.0.1:9/x' }, 'url'],
    ['a private literal', { url: 'http://10.0.0.1/x' }, 'url'],
    ['the metadata address', { url: 'http://169.254.169.254/latest' }, 'url'],
    ['an IPv6 loopback literal', { url: 'http://[::1]:9/x' }, 'url'],
    ['an IPv4-mapped IPv6 literal', { url: 'http://[::ffff:10.0.0.1]/x' }, 'url'],
    ['an IPv4-mapped IPv6 literal in hex', { url: 'http://[::ffff:7f00:1]/x' }, 'url'],
    ['an IPv4-translated IPv6 literal', { url: 'http://[::ffff:0:7f00:1]/x' }, 'url'],
    ['a 6to4 literal of the loopback', { url: 'http://[2002:7f00:1::]/x' }, 'url'],
    ['the IPv6 loopback in full', { url: 'http://[0:0:0:0:0:0:0:1]/x' }, 'url'],
    ['the IPv6 unspecified address', { url: 'http://[::]/x' }, 'url'],
    ['the IPv4 unspecified address', { url: 'http://0.0.0.0:9/x' }, 'url'],
    ['the IPv4 unspecified address as 0', { url: 'http://0:9/x' }, 'url'],
    ['a shortened loopback literal', { url: 'http://127.1:9/x' }, 'url'],
    ['a decimal loopback literal', { url: 'http://2130706433:9/x' }, 'url'],
    ['a hexadecimal loopback literal', { url: 'http://0x7f.0.0.1:9/x' }, 'url'],
    ['an octal loopback literal', { url: 'http://0177.0.0.1:9/x' }, 'url'],
    ['localhost', { url: 'http://localhost:9/x' }, 'url'],
    ['localhost in capitals with a final dot', { url: 'http://LOCALHOST.:9/x' }, 'url'],
    ['a name under .localhost', { url: 'https://api.localhost/x' }, 'url'],
    ['a missing URL', {}, 'url'],
    ['an unknown field', { url: 'https://example.com', colour: 'red' }, 'colour'],
    ['an unknown filter field', { url: 'https://example.com', filter: { kinds: ['x'] } }, 'filter.kinds'],
    [
      'a source that is not a UUID',
      { url: 'https://example.com', filter: { sources: ['crm'] } },
      'filter.sources',
    ],
    ['a short secret', { url: 'https://example.com', secret: 'whsec_c2hvcnQ=' }, 'secret'],
    ['a secret without its padding', { url: 'https://example.com', secret: SECRET.slice(0, -1) }, 'secret'],
    [
      'a secret with a space',
      { url: 'https://example.com', secret: `${SECRET.slice(0, 20)} ${SECRET.slice(20)}` },
      'secret',
    ],
    ['a secret with a line break', { url: 'https://example.com', secret: `${SECRET}\n` }, 'secret'],
    [
      'a secret in the URL-safe alphabet',
      { url: 'https://example.com', secret: `whsec_${Buffer.alloc(32, 0xfb).toString('base64url')}=` },
      'secret',
    ],
  ])('answers 400 problem+json naming the field for %s', async (_, body, field) => {
    const response = await admin('POST', '/v1/endpoints', { body });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(response.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('stores and shows the URL as it will be called', async () => {
    const created = await admin('POST', '/v1/endpoints', {
      body: { url: '  https://Hooks.Example.com:443/a path/?q=1 ' },
    });
    expect(created.status).toBe(201);
    expect(created.body.url).toBe('https://hooks.example.com/a%20path/?q=1');
    expect((await admin('GET', `/v1/endpoints/${created.body.id}`)).body.url).toBe(created.body.url);
  });

  it('reports one message per field: what kind of value it needs, when that is what is wrong', async () => {
    const response = await admin('POST', '/v1/endpoints', {
      body: { url: 'https://example.com', description: 5, filter: { types: 'billing.*' } },
    });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([
      { field: 'description', message: 'description must be a string' },
      { field: 'filter.types', message: 'types must be an array' },
    ]);
  });

  it('takes body-less requests labelled JSON, and refuses bodies that are not JSON with 415', async () => {
    const created = (await admin('POST', '/v1/endpoints', { body: { url: 'https://example.com/label' } }))
      .body;
    const rotated = await admin('POST', `/v1/endpoints/${created.id}/rotate-secret`, {
      rawBody: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(rotated.status).toBe(200);
    // curl -X POST -d '' labels its empty body a form.
    const again = await admin('POST', `/v1/endpoints/${created.id}/rotate-secret`, {
      rawBody: '',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(again.status).toBe(200);
    for (const [type, body] of [
      ['application/x-www-form-urlencoded', 'url=https%3A%2F%2Fexample.com%2Fform'],
      ['text/plain', '{"url":"https://example.com/text"}'],
    ]) {
      const refused = await admin('POST', '/v1/endpoints', {
        rawBody: body,
        headers: { 'content-type': type! },
      });
      expect({ type, status: refused.status, code: refused.body.code }).toEqual({
        type,
        status: 415,
        code: 'unsupported_media_type',
      });
    }
  });

  it('rotates to a secret of your own, refusing the current one and unknown fields', async () => {
    const created = (
      await admin('POST', '/v1/endpoints', { body: { url: 'https://example.com/own', secret: SECRET } })
    ).body;
    const next = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const rotated = await admin('POST', `/v1/endpoints/${created.id}/rotate-secret`, {
      body: { secret: next },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toBe(next);
    for (const [body, field] of [
      [{ secret: next }, 'secret'],
      // The one it replaced still signs for 24 h: not a new secret either.
      [{ secret: SECRET }, 'secret'],
      [{ secret: 'whsec_short' }, 'secret'],
      [{ secret: next.replace('CQk', 'CQj'), bogus: 1 }, 'bogus'],
    ] as const) {
      const refused = await admin('POST', `/v1/endpoints/${created.id}/rotate-secret`, { body });
      expect({ status: refused.status, field: refused.body.errors?.[0]?.field }).toEqual({
        status: 400,
        field,
      });
    }
    expect((await admin('GET', `/v1/endpoints/${created.id}`)).body.secretPrefix).toBe(next.slice(0, 10));
  });

  it('refuses a compressed or UTF-16 JSON body with 415, never as malformed JSON', async () => {
    const body = JSON.stringify({ url: 'https://example.com/encoded' });
    for (const [headers, bytes, detail] of [
      [{ 'content-encoding': 'gzip' }, gzipSync(body), 'Content-Encoding: gzip'],
      [
        { 'content-type': 'application/json;charset=utf-16le' },
        Buffer.from(body, 'utf16le'),
        'charset=utf-16le',
      ],
    ] as const) {
      const refused = await admin('POST', '/v1/endpoints', {
        rawBody: bytes,
        headers: { 'content-type': 'application/json', ...headers },
      });
      expect({ status: refused.status, code: refused.body.code, detail: refused.body.detail }).toEqual({
        status: 415,
        code: 'unsupported_media_type',
        detail: expect.stringContaining(detail),
      });
    }
  });

  it('says why a body with a __proto__ key is refused, rather than calling it malformed', async () => {
    const response = await admin('POST', '/v1/endpoints', {
      rawBody: '{"url":"https://example.com","description":"x","__proto__":{"a":1}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      code: 'validation_failed',
      detail: expect.stringContaining('__proto__'),
    });
  });

  it('refuses localhost on PATCH too, and accepts names that only contain the word', async () => {
    for (const url of [
      'https://localhost.example.com/x',
      'https://mylocalhost/x',
      'https://localhost-api.io/x',
    ]) {
      expect({ url, status: (await admin('POST', '/v1/endpoints', { body: { url } })).status }).toEqual({
        url,
        status: 201,
      });
    }
    const created = await admin('POST', '/v1/endpoints', { body: { url: 'https://example.com/x' } });
    const patched = await admin('PATCH', `/v1/endpoints/${created.body.id}`, {
      body: { url: 'http://localhost:8080/x' },
    });
    expect(patched.status).toBe(400);
    expect(patched.body.errors).toEqual([
      { field: 'url', message: expect.stringContaining('localhost always names this host') },
    ]);
  });

  it('says a replay without since or after needs one, and what is wrong with a malformed one', async () => {
    const created = await admin('POST', '/v1/endpoints', { body: { url: 'https://example.com/replay' } });
    const replay = (body: object) => admin('POST', `/v1/endpoints/${created.body.id}/replay`, { body });
    const missing = await replay({});
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({
      code: 'validation_failed',
      errors: [{ field: 'since', message: 'since or after is required' }],
    });
    expect((await replay({ since: null })).body.errors).toEqual([
      { field: 'since', message: 'since or after is required' },
    ]);
    expect(await replay({ after: 'nope' })).toMatchObject({
      status: 400,
      body: { code: 'invalid_cursor', errors: [{ field: 'after' }] },
    });
    expect((await replay({ after: '0', missedOnly: 'yes' })).body.errors).toEqual([
      { field: 'missedOnly', message: 'missedOnly must be a boolean value' },
    ]);
    expect((await replay({ since: 'monday' })).body.errors).toEqual([
      { field: 'since', message: 'since must be a valid ISO 8601 date string' },
    ]);
    // Without its offset, an instant would be read in the server's time zone.
    expect((await replay({ since: '2026-12-07 12:00:00' })).body.errors).toEqual([
      { field: 'since', message: 'since must be a date-time with its offset, e.g. 2026-12-07T12:00:00Z' },
    ]);
    expect((await replay({ since: '2026-12-07T12:00:00+01:00' })).status).toBe(202);
    expect((await replay({ since: '2026-12-07' })).status).toBe(202);
  });

  it('keeps a canonical secret of its own', async () => {
    const created = await admin('POST', '/v1/endpoints', {
      body: { url: 'https://example.com', secret: SECRET },
    });
    expect(created.status).toBe(201);
    expect(created.body.secret).toBe(SECRET);
  });

  it('answers 400 invalid_filter naming each bad type pattern', async () => {
    const response = await admin('POST', '/v1/endpoints', {
      body: { url: 'https://example.com', filter: { types: ['ok.*', 'bad..type', '**.x'] } },
    });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid_filter');
    expect(response.body.errors.map((e: { field: string }) => e.field)).toEqual([
      'filter.types.1',
      'filter.types.2',
    ]);
  });

  it('names every bad field in one answer: url, type patterns and secret alike', async () => {
    const body = { url: 'ftp://example.com', filter: { types: ['bad..type'] }, secret: 'whsec_short' };
    const created = await admin('POST', '/v1/endpoints', { body });
    expect(created.status).toBe(400);
    expect(created.body.code).toBe('validation_failed');
    expect(created.body.errors.map((e: { field: string }) => e.field)).toEqual([
      'url',
      'filter.types.0',
      'secret',
    ]);
    const endpoint = await admin('POST', '/v1/endpoints', { body: { url: 'https://example.com' } });
    const updated = await admin('PATCH', `/v1/endpoints/${endpoint.body.id}`, {
      body: { url: 'ftp://example.com', filter: { types: ['bad..type'] } },
    });
    expect(updated.status).toBe(400);
    expect(updated.body.errors.map((e: { field: string }) => e.field)).toEqual(['url', 'filter.types.0']);
    expect((await admin('GET', `/v1/endpoints/${endpoint.body.id}`)).body.url).toBe('https://example.com/');
  });

  it('needs the admin scope', async () => {
    const key = await admin('POST', '/v1/api-keys', { body: { name: 'sub', scopes: ['subscribe'] } });
    const subscriber = apiClient(herald.baseUrl, key.body.token);
    expect((await subscriber('GET', '/v1/endpoints')).status).toBe(403);
    expect((await apiClient(herald.baseUrl)('GET', '/v1/endpoints')).status).toBe(401);
  });

  it('answers 404 for unknown endpoints and deliveries', async () => {
    const unknown = '0193b7e2-5c1a-7cc0-9a51-2b8f3e4d5a6b';
    expect((await admin('GET', `/v1/endpoints/${unknown}`)).status).toBe(404);
    expect((await admin('GET', `/v1/endpoints/nope/deliveries`)).status).toBe(404);
    expect((await admin('GET', `/v1/deliveries/${unknown}`)).status).toBe(404);
    expect((await admin('POST', `/v1/deliveries/${unknown}/retry`)).status).toBe(404);
  });
});
