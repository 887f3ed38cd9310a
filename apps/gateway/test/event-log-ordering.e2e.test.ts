import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apiClient } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/**
 * Contract §3: a cursor never skips an event. Publishers on two gateway instances race while a reader
 * pages with `after`; the reader must end up with every acknowledged event exactly once, in seq order.
 */
describe('cursor-never-skips under concurrent publishing', () => {
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    first = await startTestApp();
    second = await startTestApp({}, first.databaseUrl);
  });
  afterAll(async () => {
    await second.close();
    await first.close();
  });

  it('lets a paging reader see every committed event exactly once and in seq order', async () => {
    const admin = apiClient(first.baseUrl, first.adminToken);
    const key = await admin('POST', '/v1/api-keys', {
      body: { name: 'load', scopes: ['publish', 'subscribe'] },
    });
    const clients = 16;
    const perClient = 60;
    const acknowledged = new Set<string>();
    let publishing = true;

    const publishers = Array.from({ length: clients }, async (_, c) => {
      const api = apiClient((c % 2 === 0 ? first : second).baseUrl, key.body.token);
      for (let i = 0; i < perClient; i++) {
        const r = await api('POST', '/v1/events', { body: { type: 'load.tick', data: { c, i } } });
        expect(r.status).toBe(201);
        acknowledged.add(r.body.id);
      }
    });

    const reader = apiClient(second.baseUrl, key.body.token);
    const seen: Array<{ id: string; seq: bigint }> = [];
    const read = async () => {
      let after = '0';
      for (;;) {
        const done = !publishing;
        const page = await reader('GET', `/v1/events?type=load.tick&after=${after}&limit=37`);
        expect(page.status).toBe(200);
        for (const event of page.body.data) seen.push({ id: event.id, seq: BigInt(event.seq) });
        if (page.body.data.length > 0) after = page.body.data[page.body.data.length - 1].seq;
        else if (done) return;
      }
    };

    const reading = read();
    await Promise.all(publishers);
    publishing = false;
    await reading;

    expect(acknowledged.size).toBe(clients * perClient);
    const seenIds = seen.map((e) => e.id);
    expect(new Set(seenIds).size).toBe(seenIds.length);
    expect(new Set(seenIds)).toEqual(acknowledged);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.seq > seen[i - 1]!.seq).toBe(true);
  });
});
