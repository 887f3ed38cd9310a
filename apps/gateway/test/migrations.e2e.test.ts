import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { AdvisoryLock } from '../src/database/advisory-locks.js';
import { migrate } from '../src/database/migrate.js';
import { apiClient, eventually } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const OLD_BOOTSTRAP_KEY = '01a20908-12fe-72dd-bcfb-85f9c4aed6b5';

describe('migrations', () => {
  let herald: TestApp;
  let db: DataSource;
  let endpoint: { id: string };
  let event: { id: string; seq: string };
  let rotated: { id: string; secret: string };

  beforeAll(async () => {
    herald = await startTestApp();
    db = herald.app.get(DataSource);
    // Made through the API while the schema is the current one; the tests below take it back.
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    endpoint = (await admin('POST', '/v1/endpoints', { body: { url: 'http://127.0.0.1:9/x' } })).body;
    event = (await admin('POST', '/v1/events', { body: { type: 'kept.a' } })).body;
    rotated = (
      await admin('POST', '/v1/endpoints', { body: { url: 'http://127.0.0.1:9/r', enabled: false } })
    ).body;
    await admin('POST', `/v1/endpoints/${rotated.id}/rotate-secret`);
  });
  afterAll(() => herald.close());

  const deliveryKeys = async () =>
    (
      await db.query(
        `SELECT conname FROM pg_constraint
         WHERE contype = 'f' AND conrelid IN ('deliveries'::regclass, 'delivery_attempts'::regclass)
         ORDER BY conname`,
      )
    ).map((row: { conname: string }) => row.conname);

  const deliveryIndexes = async () =>
    (
      await db.query(
        `SELECT indexname FROM pg_indexes WHERE tablename = 'deliveries' AND indexname LIKE 'deliveries_lease%'`,
      )
    ).map((row: { indexname: string }) => row.indexname);

  const retiredSecrets = async () =>
    (await db.query(`SELECT retired_secrets FROM endpoints WHERE id = $1`, [rotated.id]))[0].retired_secrets;

  const dueIndex = async () =>
    (await db.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'deliveries_due'`))[0]
      .indexdef as string;

  const reportMarks = async () =>
    (
      await db.query(
        `SELECT table_name, column_name FROM information_schema.columns
         WHERE column_name IN ('failure_report_due_at', 'disable_report_due_at') ORDER BY table_name`,
      )
    ).map((row: { table_name: string; column_name: string }) => `${row.table_name}.${row.column_name}`);

  /** 10,000 ids made by one statement: are they in the order made, and well-formed version-7 UUIDs of now? */
  const madeIds = async (made = 'herald_uuidv7') =>
    (
      await db.query(
        `WITH made AS (SELECT n, ${made}() AS id FROM generate_series(1, 10000) n)
         SELECT bool_and(in_order) AS "inOrder", bool_and(well_formed) AS "wellFormed" FROM (
           SELECT coalesce(id > lag(id) OVER (ORDER BY n), true) AS in_order,
                  substring(id::text, 15, 1) = '7' AND substring(id::text, 20, 1) IN ('8', '9', 'a', 'b')
                  AND abs(('x' || substring(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint
                          - extract(epoch FROM now()) * 1000) < 60000 AS well_formed
           FROM made) checked`,
      )
    )[0] as { inOrder: boolean; wellFormed: boolean };

  const goneIndex = async () =>
    (await db.query(`SELECT to_regclass('deliveries_gone') AS name`))[0].name as string | null;

  const prefixOf = async (id: string) =>
    (await db.query(`SELECT token_prefix FROM api_keys WHERE id = $1`, [id]))[0].token_prefix as string;

  const attemptIndexes = async () =>
    (
      await db.query(
        `SELECT indexname FROM pg_indexes WHERE tablename = 'delivery_attempts' ORDER BY indexname`,
      )
    ).map((row: { indexname: string }) => row.indexname);

  const oldAttempts = async () =>
    (
      await db.query(
        `SELECT to_char(a.attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
         FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
         WHERE d.endpoint_id = $1 AND a.attempted_at < '2021-01-01' ORDER BY a.attempted_at`,
        [endpoint.id],
      )
    ).map((row: { day: string }) => row.day);

  const attemptColumns = async () =>
    (
      await db.query(
        `SELECT column_name FROM information_schema.columns
         WHERE table_name = 'delivery_attempts' AND column_name = 'url'`,
      )
    ).map((row: { column_name: string }) => row.column_name);

  const typeIndexes = async () =>
    (
      await db.query(
        `SELECT indexname FROM pg_indexes WHERE tablename = 'events' AND indexname LIKE 'events_type%' ORDER BY 1`,
      )
    ).map((row: { indexname: string }) => row.indexname);

  const previousTokenColumns = async () =>
    (
      await db.query(
        `SELECT column_name FROM information_schema.columns
         WHERE table_name = 'sources' AND column_name LIKE 'previous_ingest_token%' ORDER BY 1`,
      )
    ).length;
  const manualRetryColumns = async () =>
    (
      await db.query(
        `SELECT column_name FROM information_schema.columns
         WHERE table_name = 'deliveries' AND column_name = 'manual_retry'`,
      )
    ).length;
  const failedIndex = async () =>
    (await db.query(`SELECT to_regclass('deliveries_failed') AS name`))[0].name as string | null;
  const vacuumSettings = async () =>
    (
      await db.query(
        `SELECT relname, reloptions FROM pg_class
         WHERE relname IN ('events', 'deliveries', 'delivery_attempts') AND reloptions IS NOT NULL ORDER BY relname`,
      )
    ).map((row: { relname: string }) => row.relname);

  /** A logger for `migrate` that keeps the messages of its warnings. */
  /** Undoes the newest migrations down to `name`, that one included, so the next migrate runs them again. */
  const undoThrough = async (name: string) => {
    for (;;) {
      const [last] = await db.query(`SELECT name FROM migrations ORDER BY timestamp DESC LIMIT 1`);
      await db.undoLastMigration({ transaction: 'each' });
      if (last.name === name) return;
    }
  };

  const warningsKept = () => {
    const warnings: string[] = [];
    const logger = {
      info: () => undefined,
      warn: (_: unknown, message: string) => void warnings.push(message),
    };
    return { warnings, logger };
  };

  it('gives a migration up when it waits long for a lock, so writes are not held behind it, and tries again', async () => {
    // Back to before AttemptUrls, to apply it again: its ALTER TABLE needs the attempts table to itself.
    await undoThrough('AttemptUrls1795450900000');
    const reader = new pg.Client({ connectionString: herald.databaseUrl });
    const writer = new pg.Client({ connectionString: herald.databaseUrl });
    await Promise.all([reader.connect(), writer.connect()]);
    try {
      // A long read of the attempts table.
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM delivery_attempts');
      const { warnings, logger } = warningsKept();
      const migrating = migrate(db, logger, { timeoutMs: 200, retryMs: 100 });
      await eventually(() => warnings.length >= 2);
      // An attempt write meanwhile waits for a lock timeout at most, not for the reader.
      const started = Date.now();
      await writer.query(
        `INSERT INTO delivery_attempts (delivery_id, attempted_at, duration_ms) VALUES (gen_random_uuid(), now(), 1)`,
      );
      expect(Date.now() - started).toBeLessThan(1_000);
      await reader.query('COMMIT');
      await migrating;
      expect(warnings[0]).toContain('waited too long for a lock');
      expect(await attemptColumns()).toEqual(['url']);
      expect(await typeIndexes()).toEqual(['events_type_pattern']);
      expect(await failedIndex()).toBe('deliveries_failed');
      await writer.query(
        `DELETE FROM delivery_attempts WHERE url IS NULL AND duration_ms = 1 AND attempted_at > now() - interval '1 minute'`,
      );
    } finally {
      await Promise.all([reader.end(), writer.end()]);
    }
  });

  it('lets a CONCURRENTLY index build wait out a long transaction, rather than giving it up and building again', async () => {
    // Back to before FailedDeliveriesByEndpoint, whose build waits for every older transaction.
    await undoThrough('FailedDeliveriesByEndpoint1795451200000');
    const reader = new pg.Client({ connectionString: herald.databaseUrl });
    await reader.connect();
    try {
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await reader.query('SELECT count(*) FROM events');
      const { warnings, logger } = warningsKept();
      let done = false;
      const migrating = migrate(db, logger, { timeoutMs: 200, retryMs: 100 }).then(() => (done = true));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect({ done, warnings }).toEqual({ done: false, warnings: [] });
      await reader.query('COMMIT');
      await migrating;
      expect(warnings).toEqual([]);
      expect(await failedIndex()).toBe('deliveries_failed');
      expect(await previousTokenColumns()).toBe(2);
    } finally {
      await reader.end();
    }
  });

  it('waits for another instance’s migrations without a statement open, which its CONCURRENTLY build would wait for', async () => {
    // Back to before FailedDeliveriesByEndpoint, so that migrations are pending while another holds the lock.
    await undoThrough('FailedDeliveriesByEndpoint1795451200000');
    const holder = new pg.Client({ connectionString: herald.databaseUrl });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [AdvisoryLock.migrations]);
      const told: string[] = [];
      const logger = {
        info: (_: unknown, message: string) => void told.push(message),
        warn: () => undefined,
      };
      const migrating = migrate(db, logger);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The holder's own CONCURRENTLY build, as the instance applying migrations runs one: it waits for
      // every statement running when it starts, and a waiting pg_advisory_lock would wait for it in turn.
      await holder.query('CREATE INDEX CONCURRENTLY migration_lock_probe ON events (received_at)');
      await holder.query('DROP INDEX migration_lock_probe');
      await holder.query('SELECT pg_advisory_unlock($1)', [AdvisoryLock.migrations]);
      await migrating;
      expect(told).toEqual(['waiting for another instance to finish its migrations', 'migrations applied']);
      expect(await failedIndex()).toBe('deliveries_failed');
      expect(await previousTokenColumns()).toBe(2);
    } finally {
      await holder.end();
    }
  });

  // The newest first, as `undoLastMigration` takes them; the last test applies them all again.
  it('reverts EndpointTypePrefixes, dropping the prefixes and the function that makes them', async () => {
    const prefixed = async () =>
      (
        await db.query(
          `SELECT (SELECT count(*)::int FROM information_schema.columns
                   WHERE table_name = 'endpoints' AND column_name = 'type_prefixes')
                + (SELECT count(*)::int FROM pg_proc WHERE proname = 'herald_type_prefixes') AS n`,
        )
      )[0].n;
    expect(await prefixed()).toBe(2);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await prefixed()).toBe(0);
  });

  const endpointColumns = async (names: string[]) =>
    (
      await db.query(
        `SELECT 1 FROM information_schema.columns WHERE table_name = 'endpoints' AND column_name = ANY($1)`,
        [names],
      )
    ).length;

  it.each([
    ['EndpointRateLimits, dropping the limits and the reserved send times', ['rate_limit', 'next_send_at']],
    ['EndpointHeaders, dropping the headers endpoints send', ['headers']],
    [
      'EndpointIdempotencyKeys, dropping the keys endpoints were created with',
      ['idempotency_key', 'request_digest'],
    ],
    ['EndpointLastFailures, dropping when each endpoint last failed', ['last_failed_at']],
  ])('reverts %s', async (_migration, columns) => {
    expect(await endpointColumns(columns)).toBe(columns.length);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await endpointColumns(columns)).toBe(0);
  });

  it('reverts ManualRetries, dropping the mark of a delivery resent by hand', async () => {
    expect(await manualRetryColumns()).toBe(1);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await manualRetryColumns()).toBe(0);
  });

  it('reverts PreviousIngestTokens, dropping the overlap of a rotated ingest token', async () => {
    expect(await previousTokenColumns()).toBe(2);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await previousTokenColumns()).toBe(0);
  });

  it('reverts FailedDeliveriesByEndpoint, dropping the index of failed deliveries', async () => {
    expect(await failedIndex()).toBe('deliveries_failed');
    await db.undoLastMigration({ transaction: 'each' });
    expect(await failedIndex()).toBeNull();
  });

  it('reverts VacuumLargeTablesSooner to the default autovacuum thresholds', async () => {
    expect(await vacuumSettings()).toEqual(['deliveries', 'delivery_attempts', 'events']);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await vacuumSettings()).toEqual([]);
  });

  it('reverts EventTypesByPattern to types indexed in the collation of the database', async () => {
    expect(await typeIndexes()).toEqual(['events_type_pattern']);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await typeIndexes()).toEqual(['events_type_seq']);
  });

  it('reverts AttemptUrls, dropping the URL each attempt was sent to', async () => {
    expect(await attemptColumns()).toEqual(['url']);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await attemptColumns()).toEqual([]);
  });

  it('reverts AttemptsStoredOnce to attempts indexed by delivery and id, which lets one be stored twice', async () => {
    expect(await attemptIndexes()).toEqual(['delivery_attempts_once', 'delivery_attempts_pkey']);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await attemptIndexes()).toEqual(['delivery_attempts_delivery', 'delivery_attempts_pkey']);
    // What an outcome write tried again during its first try's commit could store; the last test
    // applies the migration again, which keeps one of the pair.
    await db.query(
      `INSERT INTO delivery_attempts (delivery_id, attempted_at, duration_ms)
       SELECT id, at, 1 FROM deliveries,
         unnest(ARRAY['2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z']::timestamptz[]) at
       WHERE endpoint_id = $1`,
      [endpoint.id],
    );
    expect(await oldAttempts()).toEqual(['2020-01-01', '2020-01-01', '2020-01-02']);
  });

  it('reverts ShortTokenPrefixes, which cannot give back the characters it dropped', async () => {
    await db.undoLastMigration({ transaction: 'each' });
    // What an earlier Herald stored for an operator's own HERALD_ADMIN_TOKEN; the last test shortens it.
    await db.query(
      `INSERT INTO api_keys (id, name, scopes, token_hash, token_prefix)
       VALUES ($1, 'bootstrap-admin', '{admin}', '\\x00', 'short-adm')`,
      [OLD_BOOTSTRAP_KEY],
    );
    expect(await prefixOf(OLD_BOOTSTRAP_KEY)).toBe('short-adm');
  });

  it('reverts GoneAnswersIndex, dropping the index of 410 answers', async () => {
    expect(await goneIndex()).toBe('deliveries_gone');
    await db.undoLastMigration({ transaction: 'each' });
    expect(await goneIndex()).toBeNull();
  });

  it('reverts MonotonicDeliveryIds to ids whose bits after the timestamp are random', async () => {
    expect(await madeIds()).toEqual({ inOrder: true, wellFormed: true });
    // What Postgres before 18, which has no uuidv7() of its own, makes them with.
    expect(await madeIds('herald_uuidv7_counted')).toEqual({ inOrder: true, wellFormed: true });
    await db.undoLastMigration({ transaction: 'each' });
    expect(await madeIds()).toEqual({ inOrder: false, wellFormed: true });
    const [counter] = await db.query(`SELECT to_regclass('herald_uuidv7_counter') AS name`);
    expect(counter.name).toBeNull();
  });

  it('reverts HealthEventReports, dropping the report marks and their index', async () => {
    expect(await reportMarks()).toEqual([
      'deliveries.failure_report_due_at',
      'endpoints.disable_report_due_at',
    ]);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await reportMarks()).toEqual([]);
    const [index] = await db.query(`SELECT to_regclass('deliveries_failure_reports') AS name`);
    expect(index.name).toBeNull();
  });

  it('reverts DueDeliveriesByEndpoint to due deliveries indexed by due time alone', async () => {
    expect(await dueIndex()).toContain('(endpoint_id, next_attempt_at)');
    await db.undoLastMigration({ transaction: 'each' });
    expect(await dueIndex()).toContain('(next_attempt_at)');
    expect(await dueIndex()).not.toContain('endpoint_id');
  });

  it('reverts RetiredEndpointSecrets to one previous secret, the newest retired one', async () => {
    const [retired] = await retiredSecrets();
    expect(retired.secret).toBe(rotated.secret);
    await db.undoLastMigration({ transaction: 'each' });
    const [row] = await db.query(
      `SELECT previous_secret, previous_secret_expires_at AS expires FROM endpoints WHERE id = $1`,
      [rotated.id],
    );
    expect(row).toEqual({ previous_secret: rotated.secret, expires: new Date(retired.expiresAt) });
  });

  it('reverts IndexLeasesByExpiry to the lease index it replaced', async () => {
    expect(await deliveryIndexes()).toEqual(['deliveries_lease_expiry']);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await deliveryIndexes()).toEqual(['deliveries_leased']);
  });

  it('reverts DropDeliveryForeignKeys (strays the keys would refuse removed) and applies them all again', async () => {
    const [retired] = await db.query(
      `SELECT previous_secret AS secret, previous_secret_expires_at AS "expiresAt" FROM endpoints WHERE id = $1`,
      [rotated.id],
    );
    // Disabled, so the worker leaves the strays below alone.
    await db.query(`UPDATE endpoints SET enabled = false WHERE id = $1`, [endpoint.id]);
    await db.query(
      `INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
       VALUES (gen_random_uuid(), $2, $3, 'pending', now()), ($1, $4, gen_random_uuid(), 'pending', now())`,
      [endpoint.id, event.seq, event.id, String(BigInt(event.seq) + 1000n)],
    );
    expect(await deliveryKeys()).toEqual([]);

    await db.undoLastMigration({ transaction: 'each' });
    expect(await deliveryKeys()).toEqual([
      'deliveries_endpoint_id_fkey',
      'deliveries_event_seq_fkey',
      'delivery_attempts_delivery_id_fkey',
    ]);
    // The event's own delivery (its fan-out) stays; the strays to no endpoint and to no event do not.
    const kept = await db.query(`SELECT endpoint_id, event_seq FROM deliveries`);
    expect(kept).toEqual([{ endpoint_id: endpoint.id, event_seq: event.seq }]);

    // A filter from before EndpointTypePrefixes, whose prefixes it must compute.
    await db.query(`UPDATE endpoints SET filter_types = '{a_b.*.c}' WHERE id = $1`, [endpoint.id]);
    expect((await db.runMigrations({ transaction: 'each' })).map((m) => m.name)).toEqual([
      'DropDeliveryForeignKeys1795450000000',
      'IndexLeasesByExpiry1795450100000',
      'RetiredEndpointSecrets1795450200000',
      'DueDeliveriesByEndpoint1795450300000',
      'HealthEventReports1795450400000',
      'MonotonicDeliveryIds1795450500000',
      'GoneAnswersIndex1795450600000',
      'ShortTokenPrefixes1795450700000',
      'AttemptsStoredOnce1795450800000',
      'AttemptUrls1795450900000',
      'EventTypesByPattern1795451000000',
      'VacuumLargeTablesSooner1795451100000',
      'FailedDeliveriesByEndpoint1795451200000',
      'PreviousIngestTokens1795451300000',
      'ManualRetries1795451400000',
      'EndpointLastFailures1795451500000',
      'EndpointIdempotencyKeys1795451600000',
      'EndpointHeaders1795451700000',
      'EndpointRateLimits1795451800000',
      'EndpointTypePrefixes1795451900000',
    ]);
    expect(await attemptIndexes()).toEqual(['delivery_attempts_once', 'delivery_attempts_pkey']);
    expect(await oldAttempts()).toEqual(['2020-01-01', '2020-01-02']);
    expect(await attemptColumns()).toEqual(['url']);
    expect(await typeIndexes()).toEqual(['events_type_pattern']);
    expect(await failedIndex()).toBe('deliveries_failed');
    expect(await vacuumSettings()).toEqual(['deliveries', 'delivery_attempts', 'events']);
    expect(await previousTokenColumns()).toBe(2);
    expect(await prefixOf(OLD_BOOTSTRAP_KEY)).toBe('shor');
    // Herald's own tokens keep theirs.
    const [own] = await db.query(`SELECT token_prefix FROM api_keys WHERE id <> $1`, [OLD_BOOTSTRAP_KEY]);
    expect(own.token_prefix).toMatch(/^hrld_.{4}$/);
    expect(await goneIndex()).toBe('deliveries_gone');
    // Endpoints made before EndpointHeaders send none of their own.
    expect(await db.query(`SELECT DISTINCT headers FROM endpoints`)).toEqual([{ headers: {} }]);
    // Endpoints made before EndpointTypePrefixes have theirs.
    expect(
      (await db.query(`SELECT type_prefixes FROM endpoints WHERE id = $1`, [endpoint.id]))[0].type_prefixes,
    ).toEqual(['a\\_b.%']);
    expect((await madeIds()).inOrder).toBe(true);
    expect(await deliveryKeys()).toEqual([]);
    expect(await dueIndex()).toContain('(endpoint_id, next_attempt_at)');
    expect(await deliveryIndexes()).toEqual(['deliveries_lease_expiry']);
    expect(await reportMarks()).toEqual([
      'deliveries.failure_report_due_at',
      'endpoints.disable_report_due_at',
    ]);
    // The previous secret is a retired one again, with its expiry.
    expect(await retiredSecrets()).toEqual([
      { secret: retired.secret, expiresAt: retired.expiresAt.toISOString() },
    ]);
  });
});
