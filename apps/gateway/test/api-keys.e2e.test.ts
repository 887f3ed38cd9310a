import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apiClient } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('API keys (/v1/api-keys)', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    herald = await startTestApp();
    admin = apiClient(herald.baseUrl, herald.adminToken);
  });
  afterAll(() => herald.close());

  it('installs HERALD_ADMIN_TOKEN as the bootstrap admin key', async () => {
    const { status, body } = await admin('GET', '/v1/api-keys');
    expect(status).toBe(200);
    expect(body.data).toEqual([expect.objectContaining({ name: 'bootstrap-admin', scopes: ['admin'] })]);
    expect(JSON.stringify(body)).not.toContain(herald.adminToken);
  });

  it('creates a key, shows its token once, and lists it without the token', async () => {
    const created = await admin('POST', '/v1/api-keys', { body: { name: 'reader', scopes: ['subscribe'] } });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^hrld_/);
    const list = await admin('GET', '/v1/api-keys');
    const listed = list.body.data.find((k: { id: string }) => k.id === created.body.id);
    expect(listed).toEqual({
      id: created.body.id,
      name: 'reader',
      scopes: ['subscribe'],
      tokenPrefix: created.body.token.slice(0, 9),
      createdAt: expect.any(String),
    });
    expect(listed.token).toBeUndefined();
  });

  it('answers 401 without a key or with an unknown one, 403 for a key without the scope', async () => {
    const anonymous = apiClient(herald.baseUrl);
    const missing = await anonymous('GET', '/v1/api-keys');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect(missing.body).toMatchObject({ status: 401, code: 'unauthorized' });
    expect((await anonymous('GET', '/v1/api-keys', { token: 'hrld_nope' })).status).toBe(401);
    expect((await anonymous('GET', '/v1/api-keys', { headers: { authorization: 'Basic abc' } })).status).toBe(
      401,
    );

    const subscriber = await admin('POST', '/v1/api-keys', { body: { name: 's', scopes: ['subscribe'] } });
    const forbidden = await anonymous('POST', '/v1/api-keys', {
      token: subscriber.body.token,
      body: { name: 'x', scopes: ['admin'] },
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ code: 'forbidden', detail: expect.stringContaining('admin') });
  });

  it('revokes a key on delete', async () => {
    const created = await admin('POST', '/v1/api-keys', { body: { name: 'temp', scopes: ['publish'] } });
    const user = apiClient(herald.baseUrl, created.body.token);
    expect((await user('POST', '/v1/events', { body: { type: 'x.y' } })).status).toBe(201);
    expect((await admin('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(204);
    expect((await user('POST', '/v1/events', { body: { type: 'x.y' } })).status).toBe(401);
    expect((await admin('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(404);
  });

  it.each([
    [{ name: 'x', scopes: ['root'] }, 'scopes'],
    [{ name: '', scopes: ['admin'] }, 'name'],
    [{ name: 'x', scopes: [] }, 'scopes'],
    [{ name: 'x', scopes: ['admin'], extra: true }, 'extra'],
  ])('rejects the bad body %j naming %s', async (body, field) => {
    const { status, body: problem } = await admin('POST', '/v1/api-keys', { body });
    expect(status).toBe(400);
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('pages with limit and cursor', async () => {
    for (let i = 0; i < 3; i++)
      await admin('POST', '/v1/api-keys', { body: { name: `p${i}`, scopes: ['publish'] } });
    const first = await admin('GET', '/v1/api-keys?limit=2');
    expect(first.body.data).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await admin('GET', `/v1/api-keys?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.data[0].id > first.body.data[1].id).toBe(true);
    expect((await admin('GET', '/v1/api-keys?limit=501')).status).toBe(400);
    expect((await admin('GET', '/v1/api-keys?cursor=garbage')).body.code).toBe('invalid_cursor');
  });
});
