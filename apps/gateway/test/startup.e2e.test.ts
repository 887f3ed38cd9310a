import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../src/database/embedded-postgres.js';
import {
  type GatewayProcess,
  interruptGroup,
  MAIN,
  spawnGatewayProcess,
  startGatewayProcess,
} from './support/gateway-process.js';
import { START_NODE_FLAGS } from '../src/start-command.js';
import { apiClient, eventually } from './support/http.js';
import { connectSocket } from './support/sockets.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

/** A websocket to the gateway's socket server whose client stops reading once it is open, as a hung process does. */
async function frozenWebSocket(baseUrl: string): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  socket.write(
    'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: herald\r\nUpgrade: websocket\r\n' +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  const [answer] = (await once(socket, 'data')) as [Buffer];
  expect(answer.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
  socket.pause();
  return socket;
}

/** The README's start path: the built gateway with an embedded, persistent Postgres. */
describe('gateway process with embedded Postgres', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-data-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts, prints the admin key once, stops on SIGTERM and reuses its data on the next start', async () => {
    const started = Date.now();
    const first = await startGatewayProcess({ HERALD_DATA_DIR: dataDir });
    expect(Date.now() - started).toBeLessThan(60_000);
    const token = /Herald admin API key \(shown once[^:]*\): (hrld_\S+)/.exec(first.output())?.[1];
    expect(token).toBeDefined();
    // Nest's start-up lines (a line per route) stay at debug, so the key is not buried among them.
    expect(first.output()).not.toContain('Mapped {');
    // Every line names its process and instance (`kill <pid>`; a source's `heldBy` is an instance id).
    const { instance } = (await apiClient(first.baseUrl)('GET', '/healthz')).body;
    expect(first.output()).toContain(`"pid":${first.child.pid},`);
    expect(first.output()).toContain(`"instance":"${instance}"`);
    const published = await apiClient(first.baseUrl, token)('POST', '/v1/events', {
      body: { type: 'boot.check' },
    });
    expect(published.status).toBe(201);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await startGatewayProcess({ HERALD_DATA_DIR: dataDir });
    expect(second.output()).not.toContain('Herald admin API key');
    const fetched = await apiClient(second.baseUrl, token)('GET', `/v1/events/${published.body.id}`);
    expect(fetched.status).toBe(200);
    // kill -9 leaves postgres orphaned holding postmaster.pid; the next start must clear it.
    second.child.kill('SIGKILL');
    await second.exited;

    const third = await startGatewayProcess({ HERALD_DATA_DIR: dataDir });
    expect((await apiClient(third.baseUrl, token)('GET', `/v1/events/${published.body.id}`)).status).toBe(
      200,
    );
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  });

  // A terminal's Ctrl-C reaches every process of the job, the embedded postmaster included.
  it.each([
    ['SIGTERM', (gateway: GatewayProcess) => gateway.child.kill('SIGTERM')],
    ['a Ctrl-C (SIGINT to its process group)', interruptGroup],
  ] as const)(
    'on %s finishes the webhook attempt in flight and records it before stopping its Postgres',
    async (_, stop) => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
      const token = 'graceful-admin-token-0123456789';
      const env = { HERALD_DATA_DIR: dir, HERALD_ADMIN_TOKEN: token, HERALD_ALLOW_PRIVATE_TARGETS: 'true' };
      const receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 1_500 }));
      try {
        const first = await startGatewayProcess(env, undefined, undefined, true);
        const admin = apiClient(first.baseUrl, token);
        const endpoint = (await admin('POST', '/v1/endpoints', { body: { url: receiver.url } })).body;
        await admin('POST', '/v1/events', { body: { type: 'bye.now' } });
        await eventually(() => receiver.received.length === 1);
        stop(first);
        // Out of rotation once the signal is handled, while the attempt is still running: readiness 503,
        // no new sockets.
        await eventually(async () => {
          const ready = await admin('GET', '/readyz');
          return ready.status === 503 && ready.body.code === 'shutting_down';
        });
        await expect(connectSocket(first.baseUrl, token)).rejects.toThrow('unavailable');
        // Still served meanwhile, but each answer closes its connection, so no client keeps one open to an
        // instance about to close it under its next request.
        const listed = await admin('GET', '/v1/events?limit=1');
        expect(listed.status).toBe(200);
        expect(listed.headers.get('connection')).toBe('close');
        expect(await first.exited).toBe(0);

        const second = await startGatewayProcess(env);
        try {
          const listed = await apiClient(second.baseUrl, token)(
            'GET',
            `/v1/endpoints/${endpoint.id}/deliveries`,
          );
          expect(listed.body.data).toEqual([
            expect.objectContaining({ status: 'delivered', attemptCount: 1 }),
          ]);
          expect(receiver.received).toHaveLength(1);
        } finally {
          second.child.kill('SIGTERM');
          await second.exited;
        }
      } finally {
        await receiver.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('with HERALD_SHUTDOWN_DELAY serves on out of rotation for that long after SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
    const token = 'delayed-stop-admin-token-0123456789';
    const gateway = await startGatewayProcess({
      HERALD_DATA_DIR: dir,
      HERALD_ADMIN_TOKEN: token,
      HERALD_SHUTDOWN_DELAY: '5',
    });
    const admin = apiClient(gateway.baseUrl, token);
    try {
      const signalled = Date.now();
      gateway.child.kill('SIGTERM');
      await eventually(async () => (await admin('GET', '/readyz')).status === 503);
      // A balancer that has not caught up yet still gets its requests served, ingest included.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const published = await admin('POST', '/v1/events', { body: { type: 'late.arrival' } });
      expect(published.status).toBe(201);
      expect(published.headers.get('connection')).toBe('close');
      expect(await gateway.exited).toBe(0);
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(5_000);
      expect(gateway.output()).toContain('serving on until balancers have stopped routing here');
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops in seconds while a client has stopped reading its websocket (never answers the close)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
    const gateway = await startGatewayProcess({ HERALD_DATA_DIR: dir });
    const frozen = await frozenWebSocket(gateway.baseUrl);
    try {
      const stopping = Date.now();
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
      // The websocket library waits 30 s for the peer to answer its close before it lets go.
      expect(Date.now() - stopping).toBeLessThan(15_000);
    } finally {
      frozen.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second start on a data directory whose Herald still runs, leaving that Herald working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
    const token = 'shared-dir-admin-token-0123456789';
    const first = await startGatewayProcess({ HERALD_DATA_DIR: dir, HERALD_ADMIN_TOKEN: token });
    const second = spawnGatewayProcess({ HERALD_DATA_DIR: dir }, await freePort());
    try {
      expect(await second.exited).toBe(1);
      expect(second.output()).toContain(
        `the data directory ${join(dir, 'pgdata')} is in use by Herald pid ${first.child.pid}`,
      );
      expect((await fetch(`${first.baseUrl}/readyz`)).status).toBe(200);
      const published = await apiClient(first.baseUrl, token)('POST', '/v1/events', {
        body: { type: 'still.here' },
      });
      expect(published.status).toBe(201);
    } finally {
      // Had it started, the second must not outlive the test with a postgres of its own.
      second.child.kill('SIGTERM');
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      await second.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 at once on a second SIGTERM during a slow shutdown, and its embedded Postgres stops too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
    const token = 'impatient-admin-token-0123456789';
    const env = { HERALD_DATA_DIR: dir, HERALD_ADMIN_TOKEN: token, HERALD_ALLOW_PRIVATE_TARGETS: 'true' };
    // An attempt that runs 20 s: the graceful stop waits for it.
    const receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 20_000 }));
    const gateway = await startGatewayProcess(env);
    const postmaster = Number(readFileSync(join(dir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
    try {
      const admin = apiClient(gateway.baseUrl, token);
      await admin('POST', '/v1/endpoints', { body: { url: receiver.url } });
      await admin('POST', '/v1/events', { body: { type: 'slow.bye' } });
      await eventually(() => receiver.received.length === 1);
      gateway.child.kill('SIGTERM');
      await eventually(() => gateway.output().includes('shutting down'));
      const again = Date.now();
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(1);
      expect(Date.now() - again).toBeLessThan(2_000);
      expect(gateway.output()).toContain('SIGTERM during the shutdown; exiting without waiting for it');
      // Not left running without Herald, holding the data directory.
      await eventually(() => !existsSync(`/proc/${postmaster}`), 15_000, 50);
    } finally {
      gateway.child.kill('SIGKILL');
      if (existsSync(`/proc/${postmaster}`)) process.kill(postmaster, 'SIGKILL');
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops its embedded Postgres when SIGTERM comes during start-up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
    const pidFile = join(dir, 'pgdata', 'postmaster.pid');
    const gateway = spawnGatewayProcess({ HERALD_DATA_DIR: dir }, await freePort());
    try {
      await eventually(() => gateway.output().includes('embedded Postgres started'), 60_000, 20);
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
      expect(existsSync(pidFile)).toBe(false);
    } finally {
      gateway.child.kill('SIGKILL');
      // A postgres left without its parent (the failure under test) must not outlive the test.
      if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // A terminal's Ctrl-C reaches the postmaster too (SIGINT), the OOM killer sends SIGKILL.
  it.each(['SIGINT', 'SIGKILL'] as const)(
    'exits 0 at once on SIGTERM when its embedded Postgres has already exited (%s)',
    async (signal) => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
      const gateway = await startGatewayProcess({ HERALD_DATA_DIR: dir });
      try {
        const postmaster = Number(readFileSync(join(dir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
        process.kill(postmaster, signal);
        await eventually(() => !existsSync(`/proc/${postmaster}`), 20_000, 50);
        const stopping = Date.now();
        gateway.child.kill('SIGTERM');
        expect(await gateway.exited).toBe(0);
        expect(Date.now() - stopping).toBeLessThan(5_000);
        // The whole shutdown ran: the process did not just end with its stop still pending.
        expect(gateway.output()).toContain('Herald stopped');
        expect(gateway.output()).toContain('embedded Postgres had already exited');
        // The signal came while the restart waited out its backoff, which shutdown then cancelled.
        expect(gateway.output()).not.toContain('embedded Postgres restarted');
      } finally {
        gateway.child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('honours HERALD_ADMIN_TOKEN on first start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
    const token = 'my-own-admin-token-0123456789';
    const gateway = await startGatewayProcess({ HERALD_DATA_DIR: dir, HERALD_ADMIN_TOKEN: token });
    try {
      expect(gateway.output()).not.toContain(token);
      expect((await apiClient(gateway.baseUrl, token)('GET', '/v1/api-keys')).status).toBe(200);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The container runs Herald as a non-root user; embedded Postgres then runs as that user too.
  (process.getuid?.() === 0 ? it : it.skip)('starts with embedded Postgres as a non-root user', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
    const nobody = { uid: 65534, gid: 65534 };
    chownSync(dir, nobody.uid, nobody.gid);
    const gateway = await startGatewayProcess({ HERALD_DATA_DIR: dir }, 60_000, nobody);
    try {
      const token = /Herald admin API key \(shown once[^:]*\): (hrld_\S+)/.exec(gateway.output())?.[1];
      expect(
        (await apiClient(gateway.baseUrl, token)('POST', '/v1/events', { body: { type: 'nonroot.ok' } }))
          .status,
      ).toBe(201);
      expect(statSync(join(dir, 'pgdata')).uid).toBe(nobody.uid);
    } finally {
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start, saying what to do, when the data directory cannot be created', async () => {
    const home = mkdtempSync(join(tmpdir(), 'herald-home-'));
    try {
      // Under a regular file: even root cannot make it.
      writeFileSync(join(home, 'file'), '');
      const dataDir = join(home, 'file', 'herald');
      const gateway = spawnGatewayProcess({ HERALD_DATA_DIR: dataDir }, await freePort());
      expect(await gateway.exited).toBe(1);
      const fatal = gateway
        .output()
        .split('\n')
        .filter((line) => line.includes('"level":60'));
      expect(fatal).toEqual([
        expect.stringContaining(`cannot create the data directory ${dataDir}/pgdata (ENOTDIR)`),
      ]);
      expect(fatal[0]).toContain('"code":"not_accessible"');
      expect(gateway.output()).not.toContain('    at ');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  // As root Postgres runs as the postgres user, which cannot enter a 0700 home such as /root.
  (process.getuid?.() === 0 ? it : it.skip)(
    'refuses to start, saying why, when the postgres user cannot reach the data directory',
    async () => {
      const home = mkdtempSync(join(tmpdir(), 'herald-home-'));
      try {
        const gateway = spawnGatewayProcess({ HERALD_DATA_DIR: join(home, 'herald') }, await freePort());
        expect(await gateway.exited).toBe(1);
        expect(gateway.output()).toContain(
          `the postgres user, which embedded Postgres runs as under root, cannot enter ${home}`,
        );
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
  );

  it('refuses to start with bad configuration, naming each bad variable', () => {
    const result = spawnSync(process.execPath, [...START_NODE_FLAGS, MAIN], {
      env: {
        PATH: process.env.PATH,
        PORT: 'eighty',
        HERALD_RETRY_SCHEDULE: 'soon',
        HERALD_DATA_DIR: dataDir,
      },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('PORT="eighty": must be an integer port from 1 to 65535\n');
    expect(result.stderr).toContain('HERALD_RETRY_SCHEDULE="soon"');
  });

  it.each([
    ['refuses the password', (url: URL) => (url.password = 'not-the-password')],
    ['has no such database', (url: URL) => (url.pathname = '/no_such_database')],
  ])('stops at once, saying why in JSON, when the database %s', async (_case, spoil) => {
    const url = new URL(process.env.HERALD_TEST_DATABASE_URL!);
    spoil(url);
    const gateway = spawnGatewayProcess({ DATABASE_URL: url.href }, await freePort());
    expect(await gateway.exited).toBe(1);
    // Herald's own lines; Node may write a warning of its own.
    const lines = gateway
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } });
    // Not ten retries three seconds apart.
    expect(lines.filter((line) => line.msg.includes('Retrying'))).toEqual([]);
    const fatal = lines.find((line) => line.level === 60);
    expect(fatal).toMatchObject({
      msg: 'Herald could not start',
      database: `${url.hostname}:${url.port}${url.pathname}`,
    });
    expect(fatal!.err!.message).toMatch(/password authentication failed|does not exist/);
    // Said once: not also by Nest, at error, with the same stack.
    expect(lines.filter((line) => line.level >= 50)).toEqual([fatal]);
    expect(gateway.output()).not.toContain('not-the-password');
  });
});
