import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { RESTART_POLICY } from '../src/database/embedded-postgres-keeper.js';
import { isPostmasterOf } from '../src/database/postmaster.js';
import { LISTENER_APPLICATION_NAME } from '../src/database/pg-listener.service.js';
import { type GatewayProcess, startGatewayProcess } from './support/gateway-process.js';
import { apiClient, eventually } from './support/http.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

/** `postmaster.pid`'s first line is the pid, its fourth the port. */
function postmaster(pgData: string): { pid: number; port: number } {
  const lines = readFileSync(join(pgData, 'postmaster.pid'), 'utf8').split('\n');
  return { pid: Number(lines[0]), port: Number(lines[3]) };
}

/** Every postgres process (postmaster or orphaned backend) still running in the data directory. */
function postgresIn(pgData: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => isPostmasterOf(pid, pgData));
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

/** The OOM killer, a crash or a stray `kill -9` takes the embedded postmaster while Herald runs. */
describe('embedded Postgres dying while the gateway runs', () => {
  let dir: string;
  let gateway: GatewayProcess | undefined;
  let other: GatewayProcess | undefined;
  let receiver: WebhookReceiver | undefined;

  afterEach(async () => {
    for (const started of [gateway, other]) {
      started?.child.kill('SIGCONT');
      started?.child.kill('SIGKILL');
      await started?.exited;
    }
    // What the failure under test may leave behind must not outlive the test.
    for (const pid of postgresIn(join(dir, 'pgdata'))) process.kill(pid, 'SIGKILL');
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
    gateway = other = receiver = undefined;
  });

  it('is restarted on its data directory, and ingest, reads, readiness, notifications and deliveries recover', async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
    const pgData = join(dir, 'pgdata');
    const token = 'restart-admin-token-0123456789';
    receiver = await startWebhookReceiver();
    gateway = await startGatewayProcess({
      HERALD_DATA_DIR: dir,
      HERALD_ADMIN_TOKEN: token,
      HERALD_ALLOW_PRIVATE_TARGETS: 'true',
    });
    const admin = apiClient(gateway.baseUrl, token);
    expect((await admin('POST', '/v1/endpoints', { body: { url: receiver.url } })).status).toBe(201);
    const before = await admin('POST', '/v1/events', { body: { type: 'before.crash' } });
    expect(before.status).toBe(201);

    const killed = postmaster(pgData);
    process.kill(killed.pid, 'SIGKILL');
    await eventually(() => !isPostmasterOf(killed.pid, pgData), 10_000, 20);

    const after = await eventually(
      async () => {
        const published = await admin('POST', '/v1/events', { body: { type: 'after.crash' } });
        expect(published.status).toBe(201);
        return published;
      },
      45_000,
      200,
    );
    // Ingest alone can answer 201 right after the kill: a backend that has not yet noticed its
    // postmaster's death still commits (to the WAL, which the restart's recovery replays). Reads and
    // readiness need a running server.
    await eventually(
      async () => {
        const fetched = await admin('GET', `/v1/events/${before.body.id}`);
        expect(fetched.status).toBe(200);
        expect(fetched.body.type).toBe('before.crash');
        expect((await admin('GET', '/readyz')).status).toBe(200);
      },
      30_000,
      200,
    );
    // Same data directory and port, a new postmaster.
    const restarted = postmaster(pgData);
    expect(restarted.port).toBe(killed.port);
    expect(restarted.pid).not.toBe(killed.pid);
    expect(isPostmasterOf(restarted.pid, pgData)).toBe(true);
    expect(gateway.output()).toMatch(
      new RegExp(
        `"postmasterPid":${killed.pid},"code":null,"signal":"SIGKILL","msg":"embedded Postgres exited unexpectedly`,
      ),
    );

    // The LISTEN connection is back, and the delivery claims' held connection delivers the new event.
    const db = new pg.Client(`postgres://herald:herald@127.0.0.1:${restarted.port}/herald`);
    await db.connect();
    try {
      await eventually(
        async () => {
          const { rows } = await db.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
            [LISTENER_APPLICATION_NAME],
          );
          expect(rows[0]!.n).toBe(1);
        },
        20_000,
        200,
      );
    } finally {
      await db.end();
    }
    await eventually(
      () => expect(receiver!.received.map((w) => JSON.parse(w.body).id)).toContain(after.body.id),
      20_000,
      100,
    );

    // Herald's own shutdown stops the restarted postgres and is no unexpected exit.
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(occurrences(gateway.output(), 'embedded Postgres exited unexpectedly')).toBe(1);
    // The components that met the lost connection said so without the driver's stack.
    const lost = gateway
      .output()
      .split('\n')
      .filter((line) => /"err":\{[^}]*"code":"(ECONNREFUSED|57P01)"/.test(line));
    expect(lost.length).toBeGreaterThan(0);
    for (const line of lost) expect(line).not.toContain('"stack"');
    expect(occurrences(gateway.output(), 'embedded Postgres restarted')).toBe(1);
    expect(postgresIn(pgData)).toEqual([]);
  }, 120_000);

  /**
   * A gateway on a new data directory, paused (SIGSTOP) just before its postmaster is killed: it hears of
   * the exit only once resumed. Returns it with the cluster's directory.
   */
  async function pausedWithDeadPostmaster(): Promise<{ paused: GatewayProcess; pgData: string }> {
    dir = mkdtempSync(join(tmpdir(), 'herald-data-'));
    const pgData = join(dir, 'pgdata');
    gateway = await startGatewayProcess({ HERALD_DATA_DIR: dir });
    const killed = postmaster(pgData);
    gateway.child.kill('SIGSTOP');
    process.kill(killed.pid, 'SIGKILL');
    await eventually(() => !isPostmasterOf(killed.pid, pgData), 10_000, 20);
    return { paused: gateway, pgData };
  }

  it('exits 1, saying why, when it keeps failing to start again', async () => {
    // Paused, this Herald cannot start a new postmaster before its cluster is broken. (Taking the dead
    // postmaster's port instead failed in loaded full runs: something else held the port by then.)
    const { paused, pgData } = await pausedWithDeadPostmaster();
    // Without its control file, every new postmaster refuses to start.
    rmSync(join(pgData, 'global', 'pg_control'));
    paused.child.kill('SIGCONT');

    expect(await paused.exited).toBe(1);
    const output = paused.output();
    expect(output).toMatch(/"level":60.*embedded Postgres could not be restarted/);
    expect(occurrences(output, 'embedded Postgres did not restart')).toBe(RESTART_POLICY.attempts);
    expect(output).toContain('global/pg_control');
    expect(postgresIn(pgData)).toEqual([]);
  }, 120_000);

  it('leaves the data directory to a Herald that took it while its postmaster was down, and exits 1', async () => {
    // Paused, this Herald learns of the exit only once the other has started on the directory.
    const { paused, pgData } = await pausedWithDeadPostmaster();
    other = await startGatewayProcess({ HERALD_DATA_DIR: dir });
    paused.child.kill('SIGCONT');

    expect(await paused.exited).toBe(1);
    expect(paused.output()).toContain(
      `the data directory ${pgData} is in use by Herald pid ${other.child.pid}`,
    );
    expect(occurrences(paused.output(), 'embedded Postgres did not restart')).toBe(1);
    expect((await fetch(`${other.baseUrl}/readyz`)).status).toBe(200);
    other.child.kill('SIGTERM');
    expect(await other.exited).toBe(0);
    expect(postgresIn(pgData)).toEqual([]);
  }, 120_000);
});
