import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { POOL_APPLICATION_NAME } from '../src/database/database.module.js';
import { LISTENER_APPLICATION_NAME, PgListener } from '../src/database/pg-listener.service.js';
import { STREAMS_APPLICATION_NAME, StreamSupervisor } from '../src/sources/stream-supervisor.service.js';
import { apiClient, eventually } from './support/http.js';
import { createTestDatabase } from './support/test-database.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/** A session's view of the settings that let the server drop a dead client within ~25 s, and its port. */
const KEEPALIVE_QUERY = `SELECT inet_client_port() AS port, current_setting('application_name') AS name,
  current_setting('tcp_keepalives_idle') AS idle, current_setting('tcp_keepalives_interval') AS interval,
  current_setting('tcp_keepalives_count') AS count, current_setting('statement_timeout') AS "statementTimeout"`;

/**
 * Whether this process's end of the TCP connection from `port` has a keepalive timer of more than 2 s
 * pending: /proc/net/tcp's `tr` 2 is "another timer", which an idle socket has only with keepalive (a
 * delayed ACK, the other one, lasts well under a second). `when` is in USER_HZ (100 per second) ticks.
 */
function keepaliveArmed(port: number, serverPort: number): boolean {
  const loopback = (p: number) => `0100007F:${p.toString(16).toUpperCase().padStart(4, '0')}`;
  // The remote end too: a local port is shared by connections to other servers, and by closed ones.
  const line = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((row) => row.trim().split(/\s+/))
    .find((fields) => fields[1] === loopback(port) && fields[2] === loopback(serverPort));
  const [timer, when] = (line?.[5] ?? '00:0').split(':');
  return timer === '02' && Number.parseInt(when!, 16) > 200;
}

describe('Postgres connections of the gateway', () => {
  let gateway: TestApp;

  beforeAll(async () => {
    // A DATABASE_URL with options and an application_name of its own: Herald's are added, not lost.
    const url = `${await createTestDatabase()}?application_name=mine&options=${encodeURIComponent('-c statement_timeout=12345')}`;
    gateway = await startTestApp({}, url);
  });
  afterAll(() => gateway.close());

  it("asks the server to drop the listener and the stream leadership connection fast, and keeps the URL's own options", async () => {
    // The listener and the supervisor keep their connections to themselves; a test reads them anyway.
    const listener = (gateway.app.get(PgListener) as unknown as { client?: pg.Client }).client;
    const supervisor = await eventually(() => {
      const connection = (gateway.app.get(StreamSupervisor) as unknown as { connection?: pg.Client })
        .connection;
      if (!connection) throw new Error('the stream supervisor has not connected yet');
      return connection;
    });
    // Held for the test: an idle pooled connection may be closed (and its socket gone) before it is looked at.
    const pooled = gateway.app.get(DataSource).createQueryRunner();
    await pooled.connect();
    const pool = (await pooled.query(KEEPALIVE_QUERY))[0];
    const held = [
      (await listener!.query(KEEPALIVE_QUERY)).rows[0],
      (await supervisor.query(KEEPALIVE_QUERY)).rows[0],
    ];
    expect(held).toEqual(
      [LISTENER_APPLICATION_NAME, STREAMS_APPLICATION_NAME].map((name) => ({
        port: expect.any(Number),
        name,
        idle: '10',
        interval: '5',
        count: '3',
        statementTimeout: '12345ms',
      })),
    );
    // Set after connecting, not as a start-up parameter (which poolers such as PgBouncer refuse), and
    // only where another instance waits on the session.
    expect(pool).toMatchObject({ name: POOL_APPLICATION_NAME, statementTimeout: '12345ms' });
    // And the gateway probes the server too, so it notices a server that is gone.
    try {
      await Promise.all(
        [pool, ...held].map(({ port }) =>
          eventually(() => keepaliveArmed(port, Number(new URL(gateway.databaseUrl).port)), 10_000, 50),
        ),
      );
    } finally {
      await pooled.release();
    }
  });

  it('stores the first event after every session was cut off (as by a Postgres restart), not a 503', async () => {
    const admin = apiClient(gateway.baseUrl, gateway.adminToken);
    expect((await admin('POST', '/v1/events', { body: { type: 'before.cut' } })).status).toBe(201);
    const db = gateway.app.get(DataSource);
    const [{ cut }] = await db.query(
      `SELECT count(pg_terminate_backend(pid))::int AS cut FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    expect(cut).toBeGreaterThan(0);
    // The connections hear of it as the server closes them, a moment later.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await admin('POST', '/v1/events', { body: { type: 'after.cut' } });
    expect(after.body).toMatchObject({ type: 'after.cut' });
    expect(after.status).toBe(201);
  });

  it('answers /readyz 503 within its deadline while the database hangs, and 200 again after', async () => {
    // A lock on the migrations table makes the readiness query wait, as a frozen Postgres would.
    const runner = gateway.app.get(DataSource).createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    await runner.query('LOCK TABLE migrations IN ACCESS EXCLUSIVE MODE');
    try {
      const asked = Date.now();
      const hanging = await fetch(`${gateway.baseUrl}/readyz`);
      expect(Date.now() - asked).toBeLessThan(5_000);
      expect(hanging.status).toBe(503);
      expect(await hanging.json()).toMatchObject({
        code: 'database_unavailable',
        detail: expect.stringContaining('did not answer within'),
      });
      // Probes while it hangs wait on the same question, not on a pooled connection each.
      const waiting = await gateway.app
        .get(DataSource)
        .query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
        );
      await Promise.all(Array.from({ length: 3 }, () => fetch(`${gateway.baseUrl}/readyz`)));
      expect(
        await gateway.app
          .get(DataSource)
          .query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
          ),
      ).toEqual(waiting);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    expect((await fetch(`${gateway.baseUrl}/readyz`)).status).toBe(200);
  });
});
