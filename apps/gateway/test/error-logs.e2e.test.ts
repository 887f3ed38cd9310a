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
    try {
      const refused = await apiClient(herald.baseUrl, herald.adminToken)('POST', '/v1/endpoints', {
        body: { url: `https://hooks.example.com/in?token=${URL_TOKEN}`, secret: SECRET },
      });
      expect(refused.status).toBe(500);
    } finally {
      await db.query(`ALTER TABLE endpoints DROP CONSTRAINT refuse_all`);
    }
    const line = logs.lines.find((l) => l.msg === 'unexpected error') as { level: number; err: any };
    expect(line.level).toBe(50);
    expect(line.err).toMatchObject({ code: '23514', constraint: 'refuse_all', table: 'endpoints' });
    expect(line.err.query).toContain('INSERT INTO "endpoints"');
    const written = logs.text.join('\n');
    expect(written).not.toContain(SECRET);
    expect(written).not.toContain(URL_TOKEN);
  });
});
