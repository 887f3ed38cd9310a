import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apiClient } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

type Operation = {
  security?: unknown[];
  description?: string;
  'x-herald-scope'?: string;
  responses: Record<string, { description: string }>;
};

describe('the OpenAPI document', () => {
  let herald: TestApp;
  let admin: ReturnType<typeof apiClient>;
  let document: {
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, any> };
  };

  beforeAll(async () => {
    herald = await startTestApp();
    admin = apiClient(herald.baseUrl, herald.adminToken);
    document = (await admin('GET', '/docs/openapi.json')).body;
  });
  afterAll(() => herald.close());

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase(),
        path,
        operation,
      })),
    );

  it('names the scope of every keyed route, as the server enforces it', async () => {
    const scopes = Object.fromEntries(
      operations().map(({ method, path, operation }) => [`${method} ${path}`, operation['x-herald-scope']]),
    );
    expect(scopes).toMatchObject({
      'POST /v1/events': 'publish',
      'GET /v1/events': 'subscribe',
      'GET /v1/events/{id}': 'subscribe',
      'GET /v1/sources': 'admin',
      'PATCH /v1/endpoints/{id}': 'admin',
      'GET /healthz': undefined,
    });
    for (const { method, path, operation } of operations()) {
      const scope = operation['x-herald-scope'];
      expect({ route: `${method} ${path}`, public: operation.security?.length === 0 }).toEqual({
        route: `${method} ${path}`,
        public: scope === undefined,
      });
      if (scope) expect(operation.description).toContain(`\`${scope}\``);
    }

    // Each key is refused (403) exactly where the document says its scope does not reach.
    const keys = await Promise.all(
      (['publish', 'subscribe'] as const).map(async (scope) => {
        const created = await admin('POST', '/v1/api-keys', { body: { name: scope, scopes: [scope] } });
        return { scope, token: created.body.token as string };
      }),
    );
    const unknownId = '01a20908-12fe-72dd-bcfb-85f9c4aed6b5';
    for (const { method, path, operation } of operations()) {
      const scope = operation['x-herald-scope'];
      if (!scope || !path.startsWith('/v1/')) continue;
      const url = path.replace('{action}', 'toasts').replace(/\{[^}]+\}/g, unknownId);
      for (const key of keys) {
        const answer = await admin(method, url, { token: key.token });
        expect({ route: `${method} ${path}`, key: key.scope, refused: answer.status === 403 }).toEqual({
          route: `${method} ${path}`,
          key: key.scope,
          refused: scope !== key.scope,
        });
      }
    }
  });

  it('says in a line what every operation does', () => {
    const unsummarized = operations()
      .filter(({ operation }) => !(operation as { summary?: string }).summary)
      .map(({ method, path }) => `${method} ${path}`);
    expect(unsummarized).toEqual([]);
  });

  it('names on each route the errors that route can answer', () => {
    const statuses = (method: string, path: string) => Object.keys(document.paths[path]![method]!.responses);
    expect(statuses('post', '/v1/events')).toContain('409');
    expect(statuses('get', '/v1/events')).not.toContain('409');
    expect(document.paths['/v1/events']!.get!.responses['400']!.description).toContain('invalid_filter');
    expect(statuses('delete', '/v1/api-keys/{id}')).toContain('409');
    expect(statuses('get', '/v1/api-keys')).not.toContain('409');
    expect(statuses('post', '/v1/sources/{id}/{action}')).toEqual(expect.arrayContaining(['502', '504']));
    expect(statuses('get', '/v1/sources')).not.toContain('502');
    expect(statuses('post', '/v1/deliveries/{id}/retry')).toContain('409');
    expect(statuses('get', '/v1/deliveries/{id}')).not.toContain('409');
    // The common ones stay on every keyed route.
    expect(statuses('get', '/v1/events/{id}')).toEqual(
      expect.arrayContaining(['400', '401', '403', '404', '503']),
    );
  });

  it('describes request bodies as the validation pipe takes them', () => {
    const { schemas } = document.components;
    // No default on a PATCH: generated clients fill defaults in, and a rename re-enabled a source.
    expect(schemas.UpdateSourceDto.properties.enabled.default).toBeUndefined();
    expect(schemas.CreateSourceDto.properties.enabled.default).toBe(true);
    // Unknown fields are refused with 400, so the schemas are closed; free-form config stays open.
    for (const name of ['CreateSourceDto', 'UpdateSourceDto', 'UpdateEndpointDto', 'RotateSecretDto']) {
      expect({ name, additionalProperties: schemas[name].additionalProperties }).toEqual({
        name,
        additionalProperties: false,
      });
    }
    expect(schemas.CreateSourceDto.properties.config.additionalProperties).toBe(true);
    // One answers use too stays open: a field added to an answer must not break strict clients.
    expect(schemas.EndpointFilterDto.additionalProperties).toBeUndefined();
    // The headers the answers carry.
    const list = document.paths['/v1/sources']!.get!.responses as Record<string, { headers?: object }>;
    expect(Object.keys(list['401']!.headers!)).toEqual(['WWW-Authenticate']);
    expect(Object.keys(list['405']!.headers!)).toEqual(['Allow']);
    expect(Object.keys(list['503']!.headers!)).toEqual(['Retry-After']);
    // Every route with a JSON body names the answer to one that is not JSON.
    expect(document.paths['/v1/api-keys']!.post!.responses['400']!.description).toContain('invalid_json');
  });

  it("admits a webhook source's status, whose state is null", async () => {
    const created = await admin('POST', '/v1/sources', {
      body: { name: 'hook', provider: 'seatable', mode: 'webhook', config: {} },
    });
    const status = await admin('GET', `/v1/sources/${created.body.id}/status`);
    expect(status.body.state).toBeNull();
    expect(document.components.schemas.SourceStatusDto.properties.state.enum).toContain(null);
  });
});
