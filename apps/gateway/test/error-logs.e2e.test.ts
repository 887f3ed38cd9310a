import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { apiClient } from './support/http.js';
import { capturedLogs, startTestApp, type TestApp } from './support/test-app.js';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const URL_TOKEN = 'url-token-that-must-not-be-logged';

describe('error lines', () => {
  let herald: TestApp;
  const logs = capturedLogs();

  beforeAll(async () => {
    herald = await startTestApp({ HERALD_ALLOW_PRIVATE_TARGETS: 'false' }, undefined, 0, logs.logger);
  });
  afterAll(() => herald.close());

  it("name a failed statement and its SQLSTATE, never its values (the row's secrets)", async () => {
    // Refuses every new endpoint, as a full disk or a statement timeout would: Postgres's detail then
    // quotes the whole failing row, secret included, and TypeORM's error carries every parameter.
    const db = herald.app.get(DataSource);
    await db.query(`ALTER TABLE endpoints ADD CONSTRAINT refuse_all CHECK (url = '') NOT VALID`);
    let refused;
    try {
      refused = await apiClient(herald.baseUrl, herald.adminToken)('POST', '/v1/endpoints', {
        body: { url: `https://hooks.example.com/in?token=${URL_TOKEN}`, secret: SECRET },
      });
      expect(refused.status).toBe(500);
    } finally {
      await db.query(`ALTER TABLE endpoints DROP CONSTRAINT refuse_all`);
    }
    const line = logs.lines.find((l) => l.msg === 'unexpected error') as {
      level: number;
      err: any;
      requestId: string;
    };
    expect(line.level).toBe(50);
    // The answer names the id the line was logged under.
    expect(refused.body.requestId).toBe(line.requestId);
    expect(refused.headers.get('x-request-id')).toBe(line.requestId);
    expect(line.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(line.err).toMatchObject({ code: '23514', constraint: 'refuse_all', table: 'endpoints' });
    expect(line.err.query).toContain('INSERT INTO "endpoints"');
    const written = logs.text.join('\n');
    expect(written).not.toContain(SECRET);
    expect(written).not.toContain(URL_TOKEN);
  });

  it("take the caller's x-request-id when it is a plain token, and give every answer one", async () => {
    const ask = (id?: string) =>
      fetch(`${herald.baseUrl}/healthz`, { headers: id === undefined ? {} : { 'x-request-id': id } });
    expect((await ask('trace-42.a:b')).headers.get('x-request-id')).toBe('trace-42.a:b');
    const made = [await ask(), await ask(), await ask('not a token'), await ask('x'.repeat(129))].map((r) =>
      r.headers.get('x-request-id'),
    );
    for (const id of made) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    expect(new Set(made).size).toBe(4);
  });
});
