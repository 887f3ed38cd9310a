import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { apiClient } from '../support/http.js';
import { connectSocket, type RawSubscriber } from '../support/sockets.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const HTTP_RUNS = 9_000;

/** Heap still in use after a full collection: what the gateway keeps, not garbage awaiting GC. */
function retainedHeap(): number {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}
const SOCKET_RUNS = 1_000;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

interface Operation {
  method: string;
  path: string;
}

/**
 * 10,000 generated requests over every route in the OpenAPI document (plus unknown ones) and over the
 * socket: Herald must answer each with a non-5xx status, stay up, and keep its memory flat.
 */
describe('fuzzing every route and the socket', () => {
  let herald: TestApp;
  let operations: Operation[];
  let knownIds: string[];

  beforeAll(async () => {
    herald = await startTestApp();
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    const document = (await admin('GET', '/docs/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    operations = Object.entries(document.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => m in item).map((method) => ({ method: method.toUpperCase(), path })),
    );
    const source = (
      await admin('POST', '/v1/sources', { body: { name: 'fuzz', provider: 'seatable', mode: 'webhook' } })
    ).body;
    const endpoint = (await admin('POST', '/v1/endpoints', { body: { url: 'http://127.0.0.1:9/fuzz' } }))
      .body;
    const event = (await admin('POST', '/v1/events', { body: { type: 'fuzz.seed' } })).body;
    knownIds = [source.id, endpoint.id, event.id];
    operations.push({ method: 'POST', path: source.ingestUrl.replace(herald.baseUrl, '') });
  });
  afterAll(() => herald.close());

  /** Built after beforeAll, when the routes and the ids of real resources are known. */
  function requests() {
    const segment = fc.oneof(
      fc.constantFrom(...knownIds),
      fc.uuid(),
      fc.string({ maxLength: 40 }).map(encodeURIComponent),
      fc.constantFrom('..', '%00', '%ZZ', '-1', '99999999999999999999', 'toasts', 'status'),
    );
    const query = fc.dictionary(
      fc.constantFrom(
        'limit',
        'cursor',
        'after',
        'type',
        'source',
        'since',
        'until',
        'include',
        'status',
        'x',
      ),
      fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.integer().map(String),
        fc.constantFrom('seatable.**', '*', '0', 'raw'),
      ),
      { maxKeys: 3 },
    );
    const json = (value: unknown) => ({ text: JSON.stringify(value), type: 'application/json' });
    const body = fc.option(
      fc.oneof(
        fc.jsonValue({ maxDepth: 3 }).map(json),
        fc
          .record(
            {
              name: fc.string(),
              scopes: fc.array(fc.constantFrom('admin', 'publish', 'subscribe', 'root')),
              type: fc.string(),
              provider: fc.constantFrom('seatable', 'jellyfish', 'x'),
              mode: fc.constantFrom('webhook', 'stream', 'x'),
              config: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
              url: fc.string(),
              filter: fc.jsonValue({ maxDepth: 2 }),
            },
            { requiredKeys: [] },
          )
          .map(json),
        fc.string({ maxLength: 200 }).map((text) => ({ text, type: 'application/json' })),
        fc
          .uint8Array({ maxLength: 200 })
          .map((bytes) => ({ text: Buffer.from(bytes).toString('latin1'), type: 'application/x-protobuf' })),
        fc.string({ maxLength: 100 }).map((text) => ({ text, type: 'text/plain' })),
      ),
      { nil: undefined },
    );
    const unknownRoute = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
      path: fc.string().map((s) => `/v1/${encodeURIComponent(s)}`),
    });
    return fc.record({
      operation: fc.oneof(
        { weight: 9, arbitrary: fc.constantFrom(...operations) },
        { weight: 1, arbitrary: unknownRoute },
      ),
      ids: fc.array(segment, { minLength: 2, maxLength: 2 }),
      query,
      body,
      auth: fc.constantFrom('admin', 'none', 'garbage'),
    });
  }

  type FuzzRequest = ReturnType<typeof requests> extends fc.Arbitrary<infer T> ? T : never;

  async function send({ operation, ids, query, body, auth }: FuzzRequest): Promise<number> {
    let n = 0;
    const path = operation.path.replace(/\{[^}]+\}/g, () => ids[n++ % ids.length]!);
    const search = new URLSearchParams(query).toString();
    const headers: Record<string, string> = {};
    if (auth === 'admin') headers.authorization = `Bearer ${herald.adminToken}`;
    if (auth === 'garbage') headers.authorization = 'Bearer nope nope';
    if (body) headers['content-type'] = body.type;
    const response = await fetch(`${herald.baseUrl}${path}${search ? `?${search}` : ''}`, {
      method: operation.method,
      headers,
      body: body && operation.method !== 'GET' ? body.text : undefined,
    }).catch(() => undefined);
    return response?.status ?? 0;
  }

  it('never answers 5xx and keeps memory flat over 9,000 HTTP requests', async () => {
    const request = requests();
    const statuses = new Map<number, number>();
    const record = async (input: FuzzRequest) => {
      const status = await send(input);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      return status;
    };
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const status = await record(input);
        return status > 0 && status < 500;
      }),
      { numRuns: 1_000 },
    );
    const before = retainedHeap();
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const status = await record(input);
        return status > 0 && status < 500;
      }),
      { numRuns: HTTP_RUNS - 1_000 },
    );
    const grownMb = (retainedHeap() - before) / 1024 / 1024;
    expect(grownMb).toBeLessThan(32);
    expect((await fetch(`${herald.baseUrl}/readyz`)).status).toBe(200);
    // Every class of answer was exercised, not only one kind of refusal.
    expect([...statuses.keys()].some((s) => s >= 200 && s < 300)).toBe(true);
    expect([...statuses.keys()].filter((s) => s >= 400).length).toBeGreaterThan(3);
  });

  it('answers every socket message without throwing or dropping the connection, over 1,000 messages', async () => {
    const socket: RawSubscriber = await connectSocket(herald.baseUrl, herald.adminToken);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('subscribe', 'unsubscribe'),
          fc.jsonValue({ maxDepth: 3 }),
          async (name, payload) => {
            const answer = (await socket
              .timeout(5_000)
              .emitWithAck(name as 'subscribe', payload as never)) as { ok?: unknown };
            return (
              typeof answer === 'object' &&
              answer !== null &&
              typeof answer.ok === 'boolean' &&
              socket.connected
            );
          },
        ),
        { numRuns: SOCKET_RUNS },
      );
      // Unknown events and events without an ack are ignored, and the socket stays up.
      (socket as unknown as { emit(name: string, ...args: unknown[]): void }).emit('nonsense', { a: 1 });
      (socket as unknown as { emit(name: string, ...args: unknown[]): void }).emit('subscribe', {
        types: ['a.b'],
      });
      const stillThere = await socket.timeout(5_000).emitWithAck('unsubscribe', { id: 'x' });
      expect(stillThere).toMatchObject({ ok: false });
    } finally {
      socket.close();
    }
  });
});
