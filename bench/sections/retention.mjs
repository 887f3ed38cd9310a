// Retention two ways, on the same data in the same run: Herald's batched DELETEs (the gateway's own
// statements, imported from its build) against dropping day partitions of the same table partitioned by
// received_at. Both remove the oldest three of ten seeded days, one day per round, while single-row
// inserts run against the same table. Per round: the purge's wall time, the WAL its session wrote, and
// the inserts' throughput and latency during the purge against the seconds before and after it. Then
// the read path on both (the log tail, a cursor page, a lookup by id), table sizes, and the VACUUM the
// deletes leave.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { AdvisoryLock } from '@herald/gateway/dist/database/advisory-locks.js';
import { deleteDeliveries } from '@herald/gateway/dist/endpoints/deliveries/delivery-deletion.sql.js';
import { EVENT_COLUMNS } from '@herald/gateway/dist/events/event-record.js';
import {
  DELETE_EXPIRED_BATCH,
  PURGE_BATCH_SIZE,
  RAISE_PURGED_THROUGH,
  TRY_RETENTION_LOCK,
} from '@herald/gateway/dist/retention/retention.sql.js';
import { median, percentile, printFigure, printNote, sleep } from '../support/figures.mjs';
import { startGateway } from '../support/processes.mjs';
import { withClient } from '../support/postgres.mjs';

const DAY_MS = 86_400_000;
const SEEDED_DAYS = 10;
const PURGED_DAYS = 3; // one per round
const DELIVERY_EVERY = 5; // one event in five has a delivery, with one attempt
const INSERT_CONNECTIONS = 4;
const SOURCE_ID = '0190a000-0000-7000-8000-000000000001';
const ENDPOINT_ID = '0190a000-0000-7000-8000-000000000002';
const MiB = 1024 * 1024;

// What declaring `events` PARTITION BY RANGE (received_at) forces on Herald's schema: a unique index must
// contain the partition key, so `seq` and `id` are unique only together with received_at, the dedup index
// cannot be unique any more (kept as a plain index: ON CONFLICT has nothing to infer from), and a delivery
// carries its event's received_at, so a day's deliveries are found by it. events_received_at is not
// needed: a day is a partition.
const PARTITION_EVENTS = [
  'ALTER TABLE events RENAME TO events_unpartitioned',
  'CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (received_at)',
  'DROP TABLE events_unpartitioned',
  'ALTER TABLE events ADD PRIMARY KEY (seq, received_at)',
  'ALTER TABLE events ADD UNIQUE (id, received_at)',
  'CREATE INDEX events_source_dedup_key ON events (source_id, dedup_key) WHERE dedup_key IS NOT NULL',
  'CREATE INDEX events_source_seq ON events (source_id, seq)',
  'CREATE INDEX events_type_seq ON events (type, seq)',
  'CREATE INDEX events_time ON events (time)',
  'ALTER TABLE deliveries ADD COLUMN event_received_at timestamptz NOT NULL',
];

// The tables that hold the events: `events` itself, or each of its partitions.
const EVENT_TABLES = `SELECT oid::regclass AS rel FROM pg_class WHERE oid = 'events'::regclass AND relkind = 'r'
  UNION SELECT relid FROM pg_partition_tree('events') WHERE isleaf`;
const STORAGE_TABLES = `SELECT rel::text AS name FROM (${EVENT_TABLES}) AS t
  UNION ALL VALUES ('deliveries'), ('delivery_attempts')`;

const partitionName = (dayStart) => `events_${dayStart.toISOString().slice(0, 10).replaceAll('-', '')}`;

/** A database of the bench cluster with Herald's schema: the gateway started once on it ran its migrations. */
async function migratedDatabase(cluster, name) {
  const url = await cluster.createDatabase(name);
  const gateway = await startGateway({ DATABASE_URL: url });
  await gateway.stop();
  return url;
}

/**
 * `count` events spread evenly over SEEDED_DAYS from `start`, shaped like the stored section's, seq 1…count;
 * one in DELIVERY_EVERY delivered once to one endpoint. Server-side (INSERT … SELECT generate_series), the
 * same statements for both layouts, secondary indexes rebuilt after; then VACUUM ANALYZE and autovacuum off
 * on these tables, so a vacuum never lands inside a measurement: the batched layout's VACUUM is measured
 * on its own after the purges.
 */
async function seed(url, { count, start, partitioned }) {
  await withClient(url, async (client) => {
    await client.query(`SET maintenance_work_mem = '512MB'`);
    const { rows: indexes } = await client.query(
      `SELECT indexname, indexdef FROM pg_indexes i
       WHERE tablename IN ('events', 'deliveries', 'delivery_attempts')
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
    );
    for (const { indexname } of indexes) await client.query(`DROP INDEX "${indexname}"`);
    await client.query(
      `INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data, raw, raw_content_type, dedup_key)
       SELECT g,
              ('01900000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
              CASE WHEN g % 2 = 0 THEN 'seatable.row.modified' ELSE 'seatable.row.inserted' END,
              $1::uuid, 'seatable', 'tables/0000/rows/' || r.id,
              t.at, t.at,
              jsonb_build_object('rowId', r.id, 'tableId', '0000', 'opType', 'modify_row'),
              NULL, 'application/json',
              'fae0a3a42ba94df88e8303fd385e37de:0000:' || r.id || ':modify_row:' || g
       FROM generate_series(1, $2::bigint) AS g,
            LATERAL (SELECT md5(g::text) AS id) AS r,
            LATERAL (SELECT $3::timestamptz + (g - 1) * $4::float8 * interval '1 millisecond' AS at) AS t`,
      [SOURCE_ID, count, start, (SEEDED_DAYS * DAY_MS) / count],
    );
    await client.query(`SELECT setval('event_seq', $1::bigint)`, [count]);
    await client.query(
      `INSERT INTO endpoints (id, url, secret) VALUES ($1, 'http://127.0.0.1:9/hook', 'x')`,
      [ENDPOINT_ID],
    );
    await client.query(
      `INSERT INTO deliveries (id, endpoint_id, event_seq, event_id, ${partitioned ? 'event_received_at,' : ''}
                               status, attempt_count, last_attempt_at, last_response_status, created_at, updated_at)
       SELECT ('01900000-0000-7000-9000-' || lpad(to_hex(seq), 12, '0'))::uuid, $1, seq, id,
              ${partitioned ? 'received_at,' : ''} 'delivered', 1, received_at, 204, received_at, received_at
       FROM events WHERE seq % ${DELIVERY_EVERY} = 0`,
      [ENDPOINT_ID],
    );
    await client.query(
      `INSERT INTO delivery_attempts (delivery_id, attempted_at, response_status, response_body, duration_ms)
       SELECT id, last_attempt_at, 204, '', 12 FROM deliveries`,
    );
    // A partitioned index's definition reads `ON ONLY events`: built that way it would cover no partition.
    for (const { indexdef } of indexes) await client.query(indexdef.replace(' ON ONLY ', ' ON '));
    const { rows: tables } = await client.query(STORAGE_TABLES);
    for (const { name } of tables) {
      await client.query(`ALTER TABLE ${name} SET (autovacuum_enabled = false)`);
      await client.query(`VACUUM ANALYZE ${name}`);
    }
  });
}

async function sizes(client) {
  const { rows } = await client.query(
    `SELECT (SELECT sum(pg_total_relation_size(rel)) FROM (${EVENT_TABLES}) AS t)::float8 AS events,
            (pg_total_relation_size('deliveries') + pg_total_relation_size('delivery_attempts'))::float8 AS deliveries`,
  );
  return { events: rows[0].events / MiB, deliveries: rows[0].deliveries / MiB };
}

/** WAL bytes this session has written (Postgres 18 keeps WAL statistics per backend). */
async function sessionWal(client) {
  await client.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await client.query(
    'SELECT wal_bytes::float8 AS bytes FROM pg_stat_get_backend_wal(pg_backend_pid())',
  );
  return rows[0].bytes;
}

async function clusterLsn(client) {
  return (await client.query('SELECT pg_current_wal_lsn() AS lsn')).rows[0].lsn;
}

/** Herald's purge: RetentionService's loop around RetentionRepository.purgeBatch, with their statements. */
async function purgeBatched(client, cutoff) {
  let removed = 0;
  const batches = []; // milliseconds per transaction
  for (;;) {
    const at = performance.now();
    await client.query('BEGIN');
    const { rows: lock } = await client.query(TRY_RETENTION_LOCK, [AdvisoryLock.retention]);
    if (!lock[0].locked) throw new Error('the retention lock is held');
    const { rows } = await client.query(DELETE_EXPIRED_BATCH, [cutoff, PURGE_BATCH_SIZE]);
    const highest = rows.reduce((max, row) => (BigInt(row.seq) > max ? BigInt(row.seq) : max), 0n);
    await client.query(RAISE_PURGED_THROUGH, [String(highest)]);
    await client.query('COMMIT');
    batches.push(performance.now() - at);
    removed += rows.length;
    if (rows.length < PURGE_BATCH_SIZE) return { removed, batches };
  }
}

/**
 * The partitioned purge of one day: its deliveries and their attempts first (nothing cascades, as in the
 * batched layout), the watermark raised to the day's highest seq, then
 * DETACH … CONCURRENTLY (no ACCESS EXCLUSIVE lock on `events`, so inserts go on) and DROP.
 */
async function purgePartition(client, dayStart) {
  const partition = partitionName(dayStart);
  await client.query('BEGIN');
  const { rows: lock } = await client.query(TRY_RETENTION_LOCK, [AdvisoryLock.retention]);
  if (!lock[0].locked) throw new Error('the retention lock is held');
  const { rows } = await client.query(`SELECT min(seq) AS lo, max(seq) AS hi FROM ${partition}`);
  const day = 'd.event_seq BETWEEN $1 AND $2 AND d.event_received_at >= $3 AND d.event_received_at < $4';
  await client.query(`WITH ${deleteDeliveries('gone', day)} SELECT count(*) FROM gone`, [
    rows[0].lo,
    rows[0].hi,
    dayStart,
    new Date(dayStart.getTime() + DAY_MS),
  ]);
  await client.query(RAISE_PURGED_THROUGH, [rows[0].hi]);
  await client.query('COMMIT');
  const detaching = performance.now();
  await client.query(`ALTER TABLE events DETACH PARTITION ${partition} CONCURRENTLY`);
  await client.query(`DROP TABLE ${partition}`);
  return { detachAndDrop: (performance.now() - detaching) / 1000 };
}

/** Single-row inserts (one transaction each) from INSERT_CONNECTIONS sessions until stopped. */
async function startInserts(url) {
  const clients = [];
  for (let i = 0; i < INSERT_CONNECTIONS; i++) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    clients.push(client);
  }
  const samples = []; // [started at, milliseconds]
  let stopping = false;
  const loops = clients.map(async (client) => {
    while (!stopping) {
      const key = `retention-bench:${randomUUID()}`;
      const at = performance.now();
      await client.query({
        name: 'insert-event',
        text: `INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data, raw_content_type, dedup_key)
               VALUES (nextval('event_seq'), $1, 'seatable.row.modified', $2, 'seatable', 'tables/0000/rows/live',
                       now(), now(), $3, 'application/json', $4)`,
        values: [randomUUID(), SOURCE_ID, JSON.stringify({ rowId: key, tableId: '0000' }), key],
      });
      samples.push([at, performance.now() - at]);
    }
  });
  return {
    /** Inserts started in the spans `[from, to]`: rows/s and latency. */
    window(...spans) {
      const latencies = samples
        .filter(([at]) => spans.some(([from, to]) => at >= from && at < to))
        .map(([, ms]) => ms);
      return {
        rps: (latencies.length * 1000) / spans.reduce((sum, [from, to]) => sum + to - from, 0),
        p99: percentile(latencies, 99),
        max: Math.max(...latencies),
      };
    },
    async stop() {
      stopping = true;
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.end()));
    },
  };
}

/**
 * One round: inserts alone for `quietMs`, the purge of one day with the inserts still running, inserts
 * alone for `quietMs` again. The quiet figures are of both quiet spells, so a neighbour's burst on a shared
 * machine is less likely to pass for the purge's effect.
 */
async function round(layout, dayStart, { cluster, quietMs }) {
  return withClient(layout.url, async (client) => {
    await cluster.checkpoint(); // the purge's pages were written long ago: it pays full-page images
    const inserts = await startInserts(layout.url);
    try {
      const quietFrom = performance.now();
      await sleep(quietMs);
      const walBefore = await sessionWal(client);
      const lsnBefore = await clusterLsn(client);
      const from = performance.now();
      const steps = layout.partitioned
        ? await purgePartition(client, dayStart)
        : await purgeBatched(client, new Date(dayStart.getTime() + DAY_MS));
      const to = performance.now();
      await sleep(quietMs);
      const quietTo = performance.now();
      const { rows } = await client.query(
        'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::float8 AS bytes',
        [lsnBefore],
      );
      return {
        ...steps,
        wall: (to - from) / 1000,
        wal: (await sessionWal(client)) - walBefore,
        clusterWal: rows[0].bytes,
        quiet: inserts.window([quietFrom, from], [to, quietTo]),
        during: inserts.window([from, to]),
      };
    } finally {
      await inserts.stop();
    }
  });
}

/**
 * The gateway's reads on each layout: the log tail's read at the head (after every commit), a cursor page
 * at a kept position, a lookup by id. Neither seq nor id prunes partitions, so each touches all of them.
 * The layouts take turns query by query, so a busy moment on the machine hits both alike.
 */
async function readLatencies(layouts, { count, reads }) {
  const sessions = [];
  try {
    for (const layout of layouts) {
      const client = new pg.Client({ connectionString: layout.url });
      await client.connect();
      const { rows } = await client.query(
        `SELECT max(seq)::float8 AS head, (SELECT purged_through_seq::float8 FROM event_log_retention) AS purged
         FROM events`,
      );
      sessions.push({ layout, client, ...rows[0], tail: [], page: [], byId: [] });
    }
    const { rows: leaves } = await sessions
      .at(-1)
      .client.query(`SELECT count(*)::int AS n FROM pg_partition_tree('events') WHERE isleaf`);
    printNote(
      `retention reads: ${reads} of each, layouts in turn; the partitioned one has ${leaves[0].n} partitions`,
    );
    const purged = Math.max(...sessions.map((s) => s.purged));
    const timed = async (client, list, text, values) => {
      const at = performance.now();
      await client.query(text, values);
      list.push(performance.now() - at);
    };
    for (let i = 0; i < reads; i++) {
      const seq = purged + 1 + ((i * 7919) % (count - purged - 100)); // the same kept events on both
      const id = `01900000-0000-7000-8000-${seq.toString(16).padStart(12, '0')}`;
      for (const s of sessions) {
        const head = [s.head - 1];
        await timed(
          s.client,
          s.tail,
          `SELECT ${EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT 1000`,
          head,
        );
        await timed(
          s.client,
          s.page,
          `SELECT ${EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT 100`,
          [seq],
        );
        await timed(s.client, s.byId, `SELECT ${EVENT_COLUMNS} FROM events WHERE id = $1`, [id]);
      }
    }
    for (const s of sessions) {
      printFigure(`${s.layout.name}_read_tail_p50`, median(s.tail), 'ms');
      printFigure(`${s.layout.name}_read_cursor_page_p50`, median(s.page), 'ms');
      printFigure(`${s.layout.name}_read_by_id_p50`, median(s.byId), 'ms');
    }
  } finally {
    for (const s of sessions) await s.client.end();
  }
}

function report(name, results) {
  const at = (pick) => median(results.map(pick));
  printFigure(
    `${name}_purge_day_wall`,
    at((r) => r.wall),
    's',
  );
  if (results[0].batches) {
    printFigure(
      `${name}_purge_day_events`,
      at((r) => r.removed),
      'events',
    );
    // Flat or growing: each day's purge walks the index past the dead entries of the days before it.
    results.forEach((r, i) => printFigure(`${name}_purge_batch_p50_day${i + 1}`, median(r.batches), 'ms'));
    printFigure(`${name}_purge_batch_max`, Math.max(...results.flatMap((r) => r.batches)), 'ms');
  }
  if (results[0].detachAndDrop !== undefined)
    printFigure(
      `${name}_purge_day_detach_and_drop`,
      at((r) => r.detachAndDrop),
      's',
    );
  printFigure(`${name}_purge_day_wal`, at((r) => r.wal) / MiB, 'MiB');
  printFigure(`${name}_purge_day_cluster_wal`, at((r) => r.clusterWal) / MiB, 'MiB');
  printFigure(`${name}_ingest_quiet_throughput`, Math.round(at((r) => r.quiet.rps)), 'rows/s');
  printFigure(
    `${name}_ingest_quiet_p99`,
    at((r) => r.quiet.p99),
    'ms',
  );
  printFigure(`${name}_ingest_during_purge_throughput`, Math.round(at((r) => r.during.rps)), 'rows/s');
  printFigure(
    `${name}_ingest_during_purge_p99`,
    at((r) => r.during.p99),
    'ms',
  );
  printFigure(
    `${name}_ingest_during_purge_max`,
    at((r) => r.during.max),
    'ms',
  );
}

export async function retentionSection({ cluster, quick }) {
  const count = quick ? 500_000 : 1_000_000;
  const quietMs = quick ? 1_000 : 2_000;
  // Whole UTC days, the newest seeded one ending at today's midnight: live inserts land in today.
  const today = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);
  const start = new Date(today.getTime() - SEEDED_DAYS * DAY_MS);
  const [batchedUrl, partitionedUrl] = await Promise.all([
    migratedDatabase(cluster, 'retention_batched'),
    migratedDatabase(cluster, 'retention_partitioned'),
  ]);
  await withClient(partitionedUrl, async (client) => {
    await client.query('BEGIN');
    for (const statement of PARTITION_EVENTS) await client.query(statement);
    for (let day = 0; day < SEEDED_DAYS + 2; day++) {
      const from = new Date(start.getTime() + day * DAY_MS);
      await client.query(
        `CREATE TABLE ${partitionName(from)} PARTITION OF events FOR VALUES FROM ('${from.toISOString()}') TO ('${new Date(from.getTime() + DAY_MS).toISOString()}')`,
      );
    }
    await client.query('COMMIT');
  });
  const layouts = [
    { name: 'retention_batched', url: batchedUrl, partitioned: false },
    { name: 'retention_partitioned', url: partitionedUrl, partitioned: true },
  ];

  const seedStarted = performance.now();
  // One layout per session: seeding is CPU-bound in Postgres, and there are two cores.
  await Promise.all(
    layouts.map((layout) => seed(layout.url, { count, start, partitioned: layout.partitioned })),
  );
  printFigure(
    `retention_seed_${count / 1_000_000}m_events_twice`,
    (performance.now() - seedStarted) / 1000,
    's',
  );
  printNote(
    `retention: ${count} events over ${SEEDED_DAYS} days in each layout, 1 in ${DELIVERY_EVERY} with a delivery and an attempt; ` +
      `the oldest ${PURGED_DAYS} days removed one per round, ${INSERT_CONNECTIONS} sessions inserting single rows meanwhile`,
  );

  const results = new Map(layouts.map((layout) => [layout.name, []]));
  for (const layout of layouts) {
    layout.before = await withClient(layout.url, sizes);
  }
  for (let day = 0; day < PURGED_DAYS; day++) {
    const dayStart = new Date(start.getTime() + day * DAY_MS);
    // Alternate which layout goes first, so neither always follows the other's purge.
    const order = day % 2 ? [...layouts].reverse() : layouts;
    for (const layout of order)
      results.get(layout.name).push(await round(layout, dayStart, { cluster, quietMs }));
  }

  for (const layout of layouts) {
    report(layout.name, results.get(layout.name));
    printFigure(
      `${layout.name}_purge_${PURGED_DAYS}_days_wall`,
      results.get(layout.name).reduce((s, r) => s + r.wall, 0),
      's',
    );
  }
  await readLatencies(layouts, { count, reads: quick ? 100 : 300 });
  for (const layout of layouts) {
    await withClient(layout.url, async (client) => {
      const after = await sizes(client);
      const walBefore = await sessionWal(client);
      const started = performance.now();
      const { rows: tables } = await client.query(STORAGE_TABLES);
      for (const { name } of tables) await client.query(`VACUUM ${name}`);
      const vacuumSeconds = (performance.now() - started) / 1000;
      const vacuumWal = (await sessionWal(client)) - walBefore;
      const vacuumed = await sizes(client);
      printFigure(`${layout.name}_events_size_before`, layout.before.events, 'MiB');
      printFigure(`${layout.name}_events_size_after`, after.events, 'MiB');
      printFigure(`${layout.name}_events_size_after_vacuum`, vacuumed.events, 'MiB');
      printFigure(`${layout.name}_deliveries_size_before`, layout.before.deliveries, 'MiB');
      printFigure(`${layout.name}_deliveries_size_after_vacuum`, vacuumed.deliveries, 'MiB');
      printFigure(`${layout.name}_vacuum_after_purge`, vacuumSeconds, 's');
      printFigure(`${layout.name}_vacuum_after_purge_wal`, vacuumWal / MiB, 'MiB');
    });
  }
}
