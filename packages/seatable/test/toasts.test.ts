import { AdapterError, type ActionContext } from '@herald/events';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { seatableAdapter } from '../src/index.js';
import { FakeSeatableServer, type FakeSeatableServerOptions } from '../src/testing/index.js';
import { expectDefined } from './helpers.js';

const context: ActionContext = {
  sourceId: 'src-toasts',
  logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
};
const toUser = 'aea9e807bcfd4f3481d60294df74f6ee@auth.local';
const toasts = expectDefined(seatableAdapter.actions?.toasts, 'toasts action');

let server: FakeSeatableServer;

async function restart(options: FakeSeatableServerOptions): Promise<void> {
  await server.close();
  server = await FakeSeatableServer.start(options);
}

function sourceConfig(apiToken = 'fake-api-token'): Record<string, unknown> {
  return { serverUrl: server.url, apiToken, socketPath: '/api-gateway/socket.io' };
}

async function toastError(run: Promise<unknown>): Promise<AdapterError> {
  const error = await run.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  if (error instanceof AdapterError) return error;
  throw new Error(`expected an AdapterError, got ${String(error)}`);
}

beforeEach(async () => {
  server = await FakeSeatableServer.start();
});

afterEach(async () => {
  await server.close();
});

describe('toasts action', () => {
  it('posts a ui-toast to the api-gateway with the base token', async () => {
    const result = await toasts(
      sourceConfig(),
      { toUser, message: 'Backup done ✓', type: 'success' },
      context,
    );
    expect(result).toEqual({
      delivered: true,
      status: 200,
      url: `${server.url}/api-gateway/api/v2/dtables/${server.dtableUuid}/ui-toasts/`,
    });
    expect(server.toasts).toEqual([
      {
        route: 'api-gateway',
        dtableUuid: server.dtableUuid,
        authorization: expect.stringMatching(/^Token [\w-]+\.[\w-]+\.[\w-]+$/),
        body: { to_user: toUser, toast_type: 'success', detail: { msg: 'Backup done ✓' } },
      },
    ]);
  });

  it('reuses the base token for later toasts', async () => {
    await toasts(sourceConfig(), { toUser, message: 'one', type: 'warning' }, context);
    await toasts(sourceConfig(), { toUser, message: 'two', type: 'danger' }, context);
    expect(server.toasts.map((toast) => toast.body)).toMatchObject([
      { toast_type: 'warning', detail: { msg: 'one' } },
      { toast_type: 'danger', detail: { msg: 'two' } },
    ]);
    expect(server.counters.tokenRequests).toBe(1);
  });

  it('uses the classic dtable-server URL on servers without the api-gateway, and falls back to it on 404', async () => {
    server.apiGatewayToasts = false;
    await toasts(sourceConfig(), { toUser, message: 'fallback', type: 'success' }, context);
    expect(server.toasts.map((toast) => toast.route)).toEqual(['classic']);

    await restart({ useApiGateway: false });
    const result = await toasts(sourceConfig(), { toUser, message: 'classic', type: 'success' }, context);
    expect(result).toMatchObject({
      url: `${server.url}/dtable-server/api/v1/dtables/${server.dtableUuid}/ui-toasts/`,
    });
    expect(server.toasts.map((toast) => toast.route)).toEqual(['classic']);
  });

  it('reports SeaTable refusing the toast as upstream_refused with status and SeaTable’s message', async () => {
    server.toastRefusal = { status: 403, body: '{"error_msg": "Permission denied."}' };
    const error = await toastError(
      toasts(sourceConfig(), { toUser, message: 'no', type: 'success' }, context),
    );
    expect(error.code).toBe('upstream_refused');
    expect(error.message).toMatch(/403/);
    expect(error.details).toContain('SeaTable: Permission denied.');
  });

  it('never repeats an answer that is not a SeaTable error: the server URL may point anywhere', async () => {
    server.toastRefusal = { status: 500, body: 'INTERNAL-PAGE ami-id instance-id' };
    const error = await toastError(
      toasts(sourceConfig(), { toUser, message: 'no', type: 'success' }, context),
    );
    expect(error.code).toBe('upstream_refused');
    expect(JSON.stringify([error.message, error.details])).not.toContain('INTERNAL-PAGE');
  });

  it('follows no redirect: the API token goes nowhere but serverUrl', async () => {
    const hits: string[] = [];
    const target = http.createServer((request, response) => {
      hits.push(`${request.url} ${request.headers.authorization ?? ''}`);
      response.end('{"access_token": "x", "dtable_uuid": "y"}');
    });
    const redirecting = http.createServer((request, response) => {
      const { port } = target.address() as AddressInfo;
      response.writeHead(302, { location: `http://127.0.0.1:${port}/internal${request.url}` }).end();
    });
    await Promise.all(
      [target, redirecting].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))),
    );
    try {
      const { port } = redirecting.address() as AddressInfo;
      const config = { serverUrl: `http://127.0.0.1:${port}`, apiToken: 'fake-api-token' };
      const error = await toastError(toasts(config, { toUser, message: 'x', type: 'success' }, context));
      expect(error.code).toBe('upstream_refused');
      expect(error.message).toMatch(
        /302 \(a redirect to http:\/\/127\.0\.0\.1:\d+\/internal\/api.*, not followed/,
      );
      expect(hits).toEqual([]);
    } finally {
      await Promise.all([target, redirecting].map((s) => new Promise((r) => s.close(r))));
    }
  });

  it('reports a refused API token as upstream_refused', async () => {
    const error = await toastError(
      toasts(sourceConfig('bad-token'), { toUser, message: 'x', type: 'success' }, context),
    );
    expect(error.code).toBe('upstream_refused');
    expect(error.details).toContain('status 401');
  });

  it('reports an unreachable server as upstream_unreachable', async () => {
    const port = await freePort();
    const config = { serverUrl: `http://127.0.0.1:${port}`, apiToken: 'fake-api-token' };
    const error = await toastError(toasts(config, { toUser, message: 'x', type: 'success' }, context));
    expect(error.code).toBe('upstream_unreachable');
  });

  it('validates the input', async () => {
    const error = await toastError(
      toasts(sourceConfig(), { toUser: 'ann@example.com', message: ' ', type: 'info', x: 1 }, context),
    );
    expect(error.code).toBe('invalid_action_input');
    expect(error.details).toEqual([
      {
        field: 'toUser',
        message: 'toUser must be a SeaTable user id ending in "@auth.local" (not an e-mail address or name)',
      },
      { field: 'message', message: 'message must be a non-empty string' },
      { field: 'type', message: 'type must be one of success, warning, danger' },
      { field: 'x', message: 'x is not a toast field' },
    ]);
    expect((await toastError(toasts(sourceConfig(), 'hello', context))).code).toBe('invalid_action_input');
    expect(server.toasts).toEqual([]);
  });

  it('needs serverUrl and apiToken, which webhook sources may leave out', async () => {
    const error = await toastError(
      toasts({ secret: 'abc' }, { toUser, message: 'x', type: 'success' }, context),
    );
    expect(error.code).toBe('invalid_config');
    const webhookWithAccess = seatableAdapter.parseConfig('webhook', {
      secret: 'abc',
      serverUrl: server.url,
      apiToken: 'fake-api-token',
    });
    if (!webhookWithAccess.ok) throw new Error('config refused');
    await expect(
      toasts(webhookWithAccess.config, { toUser, message: 'via webhook source', type: 'success' }, context),
    ).resolves.toMatchObject({ delivered: true });
  });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
