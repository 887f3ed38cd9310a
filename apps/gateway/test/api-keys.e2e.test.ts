import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { createServer, type AddressInfo } from 'node:net';
import { spawnGatewayProcess, startGatewayProcess } from './support/gateway-process.js';
import { apiClient } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { createTestDatabase } from './support/test-database.js';

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

  it('shows a quarter at most of a short HERALD_ADMIN_TOKEN as its prefix', async () => {
    const token = 'short-admin-0123';
    const chosen = await startTestApp({ HERALD_ADMIN_TOKEN: token });
    try {
      const { body } = await apiClient(chosen.baseUrl, token)('GET', '/v1/api-keys');
      expect(body.data).toEqual([expect.objectContaining({ name: 'bootstrap-admin', tokenPrefix: 'shor' })]);
    } finally {
      await chosen.close();
    }
  });

  it('creates a key, shows its token once, and lists it without the token', async () => {
    const created = await admin('POST', '/v1/api-keys', { body: { name: 'reader', scopes: ['subscribe'] } });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^hrld_/);
    // No cache on the way keeps the token; refusals are not cached either.
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await admin('GET', '/v1/api-keys/nope')).headers.get('cache-control')).toBe('no-store');
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

describe('the last admin key', () => {
  let herald: TestApp;
  /** The one admin key left after each test. */
  let admin: { id: string; token: string };

  beforeAll(async () => {
    herald = await startTestApp();
    const listed = await apiClient(herald.baseUrl, herald.adminToken)('GET', '/v1/api-keys');
    admin = { id: listed.body.data[0].id, token: herald.adminToken };
  });
  afterAll(() => herald.close());

  const as = (key: { token: string }) => apiClient(herald.baseUrl, key.token);
  const createAdmin = async (): Promise<{ id: string; token: string }> => {
    const created = await as(admin)('POST', '/v1/api-keys', {
      body: { name: 'another admin', scopes: ['publish', 'admin'] },
    });
    expect(created.status).toBe(201);
    return created.body;
  };
  const adminKeyCount = async () =>
    (await as(admin)('GET', '/v1/api-keys?limit=500')).body.data.filter((k: { scopes: string[] }) =>
      k.scopes.includes('admin'),
    ).length;

  it('cannot be deleted, not even by itself, so someone can always administer Herald', async () => {
    const second = await createAdmin();
    expect((await as(second)('DELETE', `/v1/api-keys/${admin.id}`)).status).toBe(204);
    admin = second;

    const refused = await as(admin)('DELETE', `/v1/api-keys/${admin.id}`);
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body).toMatchObject({
      status: 409,
      code: 'last_admin_key',
      detail: expect.stringContaining('last key with the admin scope'),
    });
    expect(await adminKeyCount()).toBe(1);
  });

  it('lets only one of two admins deleting each other at once succeed', async () => {
    for (let round = 0; round < 5; round++) {
      const other = await createAdmin();
      const [mine, theirs] = await Promise.all([
        as(admin)('DELETE', `/v1/api-keys/${other.id}`),
        as(other)('DELETE', `/v1/api-keys/${admin.id}`),
      ]);
      const statuses = [mine.status, theirs.status];
      // The loser is refused (409), or unknown already (401) when the winner committed before it was read.
      expect(statuses.filter((s) => s === 204)).toHaveLength(1);
      expect(statuses.every((s) => [204, 401, 409].includes(s))).toBe(true);
      if (theirs.status === 204) admin = other;
      expect(await adminKeyCount()).toBe(1);
    }
  });

  it('is installed from HERALD_ADMIN_TOKEN at start when none exists, and says when that token is ignored', async () => {
    const earlier = await startTestApp();
    const { databaseUrl } = earlier;
    const reader = (
      await apiClient(earlier.baseUrl, earlier.adminToken)('POST', '/v1/api-keys', {
        body: { name: 'r', scopes: ['subscribe'] },
      })
    ).body;
    await earlier.close();
    // What an earlier Herald, without the guard, could leave behind: keys, none of them an admin.
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    await db.query(`DELETE FROM api_keys WHERE 'admin' = ANY(scopes)`);
    await db.end();

    /** Runs Herald on that database with `env`, hands `check` its URL and its output so far, stops it. */
    const restart = async (
      env: Record<string, string>,
      check: (baseUrl: string, output: string) => Promise<void>,
    ) => {
      const gateway = await startGatewayProcess({ DATABASE_URL: databaseUrl, ...env });
      try {
        await check(gateway.baseUrl, gateway.output());
      } finally {
        gateway.child.kill('SIGTERM');
        await gateway.exited;
      }
    };
    await restart({}, async (_, output) => {
      expect(output).toContain('no admin API key exists: set HERALD_ADMIN_TOKEN and restart to install one');
      expect(output).not.toContain('Herald admin API key');
    });
    const recovery = 'recovery-admin-token-0123456789';
    await restart({ HERALD_ADMIN_TOKEN: recovery }, async (baseUrl, output) => {
      expect(output).toContain('no admin API key existed: installed one from HERALD_ADMIN_TOKEN');
      expect(output).not.toContain(recovery);
      const listed = await apiClient(baseUrl, recovery)('GET', '/v1/api-keys');
      expect(listed.status).toBe(200);
      expect(listed.body.data.map((k: { id: string }) => k.id)).toContain(reader.id);
    });
    const another = 'another-admin-token-0123456789';
    await restart({ HERALD_ADMIN_TOKEN: another }, async (baseUrl, output) => {
      expect(output).toContain('HERALD_ADMIN_TOKEN is ignored: admin API keys exist');
      expect((await apiClient(baseUrl, another)('GET', '/v1/api-keys')).status).toBe(401);
      expect((await apiClient(baseUrl, recovery)('GET', '/v1/api-keys')).status).toBe(200);
    });
  });

  it('prints a generated admin key once it listens; a start that cannot listen neither prints nor keeps one', async () => {
    const databaseUrl = await createTestDatabase();
    /** A start whose port is taken: it fails after the key is made, before it listens. */
    const startOnTakenPort = async () => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      try {
        const failed = spawnGatewayProcess(
          { DATABASE_URL: databaseUrl },
          (taken.address() as AddressInfo).port,
        );
        expect(await failed.exited).toBe(1);
        expect(failed.output()).toContain('EADDRINUSE');
        return failed.output();
      } finally {
        taken.close();
      }
    };
    const printedKey = (output: string) =>
      /Herald admin API key \(shown once[^:]*\): (hrld_\S+)/.exec(output)?.[1];
    /** Runs Herald on the database until `check` is done with its URL and output. */
    const running = async (check: (baseUrl: string, output: string) => Promise<void>) => {
      const gateway = await startGatewayProcess({ DATABASE_URL: databaseUrl });
      try {
        await check(gateway.baseUrl, gateway.output());
      } finally {
        gateway.child.kill('SIGTERM');
        await gateway.exited;
      }
    };

    expect(await startOnTakenPort()).not.toContain('Herald admin API key');
    await running(async (baseUrl, output) => {
      const token = printedKey(output);
      expect(token).toBeDefined();
      const keys = await apiClient(baseUrl, token)('GET', '/v1/api-keys');
      expect(keys.body.data).toEqual([expect.objectContaining({ name: 'bootstrap-admin' })]);
    });

    // A key that cannot be withdrawn (the database refuses, as one gone away would) is printed after
    // all: kept unprinted, it would lock the operator out.
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await db.query('DELETE FROM api_keys');
      await db.query(`CREATE FUNCTION test_keep_keys() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
      await db.query(
        'CREATE TRIGGER test_keep_keys BEFORE DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION test_keep_keys()',
      );
      const output = await startOnTakenPort();
      expect(output).toContain('could not withdraw the generated admin API key');
      const kept = printedKey(output);
      expect(kept).toBeDefined();
      await running(async (baseUrl) => {
        expect((await apiClient(baseUrl, kept)('GET', '/v1/api-keys')).status).toBe(200);
      });
    } finally {
      await db.end();
    }
  });
});
