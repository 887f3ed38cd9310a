import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { compileFilter } from '@herald/events';
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { apiClient, eventually } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

// 'axb' is what an unescaped 'a_b' would match, `_` being LIKE's one-character wildcard.
const segment = fc.constantFrom('a', 'b', 'a_b', 'axb', 'ab', 'x-y');
const typeOf = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('.'));
const patternOf = fc
  .tuple(fc.array(fc.oneof(segment, fc.constant('*')), { maxLength: 4 }), fc.boolean())
  .filter(([segments, open]) => segments.length > 0 || open)
  .map(([segments, open]) => [...segments, ...(open ? ['**'] : [])].join('.'));

describe('the LIKE prefixes the fan-out tests before type regexes', () => {
  let herald: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    herald = await startTestApp();
    db = herald.app.get(DataSource);
  });
  afterAll(() => herald.close());

  it('are LIKE every type their pattern matches, and without wildcards only those', async () => {
    await fc.assert(
      fc.asyncProperty(patternOf, typeOf, async (pattern, type) => {
        const [{ likes }] = await db.query(
          `SELECT $2 LIKE ANY(herald_type_prefixes(ARRAY[$1::text])) AS likes`,
          [pattern, type],
        );
        const matches = compileFilter({ types: [pattern] }).matchesType(type);
        if (matches) expect(likes).toBe(true);
        if (!pattern.includes('*')) expect(likes).toBe(matches);
      }),
      { numRuns: 400 },
    );
  });

  it('follow a changed filter, and an endpoint gets exactly the events its patterns match', async () => {
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    const created = await admin('POST', '/v1/endpoints', {
      body: { url: 'http://127.0.0.1:9/x', enabled: false, filter: { types: ['row_created.*'] } },
    });
    const prefixes = async () =>
      (await db.query(`SELECT type_prefixes FROM endpoints WHERE id = $1`, [created.body.id]))[0]
        .type_prefixes;
    expect(await prefixes()).toEqual(['row\\_created.%']);
    await admin('PATCH', `/v1/endpoints/${created.body.id}`, {
      body: { enabled: true, filter: { types: ['shop.*.paid', 'shop.refund', 'audit.**'] } },
    });
    expect(await prefixes()).toEqual(['shop.%', 'shop.refund', 'audit.%']);
    const types = ['shop.order.paid', 'shop.order.sent', 'shop.refund', 'shop.refunds', 'audit.x.y', 'audit'];
    for (const type of types) await admin('POST', '/v1/events', { body: { type } });
    await eventually(async () => {
      const listed = await admin('GET', `/v1/endpoints/${created.body.id}/deliveries?limit=100`);
      return listed.body.data.length === 3;
    });
    const listed = await admin('GET', `/v1/endpoints/${created.body.id}/deliveries?limit=100`);
    expect(listed.body.data.map((d: { eventType: string }) => d.eventType).sort()).toEqual([
      'audit.x.y',
      'shop.order.paid',
      'shop.refund',
    ]);
  });
});
