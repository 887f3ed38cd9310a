// Ingest with millions of events already stored vs the empty store of the ingest section: seeded
// server-side (INSERT … SELECT FROM generate_series, the fastest path: no bytes cross the socket), into
// the same source, secondary indexes rebuilt after, then VACUUM ANALYZE + CHECKPOINT as a store at rest.
import { printFigure, printNote } from '../support/figures.mjs';
import { startGateway } from '../support/processes.mjs';
import { withClient } from '../support/postgres.mjs';
import { createSeatableSource, ingestRounds } from './ingest.mjs';

const phase = (name, since) => printFigure(`seed_phase_${name}`, (performance.now() - since) / 1000, 's');

// Row ids spread like real ones (md5), so the live inserts land all over the dedup-key index.
// UUIDv7-shaped ids, ascending with seq; times within the retention window (no purge kicks in).
function insertRange(client, base, sourceId, from, to) {
  return client.query(
    `INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data, raw, raw_content_type, dedup_key)
       SELECT $1::bigint + g,
              ('01900000-0000-7000-8000-' || lpad(to_hex($1::bigint + g), 12, '0'))::uuid,
              CASE WHEN g % 2 = 0 THEN 'seatable.row.modified' ELSE 'seatable.row.inserted' END,
              $2::uuid, 'seatable', 'tables/0000/rows/' || r.id,
              t.at, t.at,
              jsonb_build_object('rowId', r.id, 'tableId', '0000', 'opType', 'modify_row'),
              NULL, 'application/json',
              'fae0a3a42ba94df88e8303fd385e37de:0000:' || r.id || ':modify_row:' || g
       FROM generate_series($3::bigint, $4::bigint) AS g,
            LATERAL (SELECT md5(g::text) AS id) AS r,
            LATERAL (SELECT now() - interval '2 days' + g * interval '1 millisecond' AS at) AS t`,
    [String(base), sourceId, from, to],
  );
}

export async function seedEvents(databaseUrl, sourceId, count) {
  const started = performance.now();
  await withClient(databaseUrl, async (client) => {
    const { rows } = await client.query('SELECT coalesce(max(seq), 0)::bigint AS max FROM events');
    const base = BigInt(rows[0].max);
    // Secondary indexes are dropped and rebuilt around the bulk insert (a sorted build is far faster than
    // millions of random b-tree inserts); the primary key and the unique id take ascending values.
    const { rows: indexes } = await client.query(
      `SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = 'events'
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
    );
    await client.query(`SET maintenance_work_mem = '1GB'`);
    for (const { indexname } of indexes) await client.query(`DROP INDEX "${indexname}"`);
    let t = performance.now();
    // Two sessions, one half each: the insert is CPU-bound in Postgres, and there are two cores.
    const half = Math.ceil(count / 2);
    await Promise.all(
      [
        [1, half],
        [half + 1, count],
      ].map(([from, to]) => withClient(databaseUrl, (c) => insertRange(c, base, sourceId, from, to))),
    );
    phase('insert', t);
    t = performance.now();
    for (const { indexdef } of indexes) await client.query(indexdef);
    phase('indexes', t);
    t = performance.now();
    await client.query(`SELECT setval('event_seq', $1::bigint)`, [String(base + BigInt(count))]);
    await client.query('VACUUM ANALYZE events');
    phase('vacuum', t);
    t = performance.now();
    await client.query('CHECKPOINT');
    phase('checkpoint', t);
  });
  return (performance.now() - started) / 1000;
}

export async function storedSection({ cluster, quick, heraldUrl, ingestUrl }) {
  const count = quick ? 1_000_000 : 10_000_000;
  const label = quick ? '1m' : '10m';
  const sourceId = new URL(ingestUrl).pathname.split('/')[3];
  const seedSeconds = await seedEvents(heraldUrl, sourceId, count);
  printFigure(`seed_${label}_events`, seedSeconds, 's');
  if (quick) printNote('--quick seeds 1M stored events instead of 10M');
  // The empty store is measured again here, in a second gateway on a fresh database of the same
  // cluster, in rounds interleaved with the seeded one: the ratio compares like with like.
  const running = [];
  try {
    const stored = await startGateway({ DATABASE_URL: heraldUrl });
    running.push(stored);
    const empty = await startGateway({ DATABASE_URL: await cluster.createDatabase('herald_empty') });
    running.push(empty);
    const results = await ingestRounds(
      [
        {
          name: `herald_stored_${label}`,
          url: stored.baseUrl + new URL(ingestUrl).pathname,
          pid: stored.pid,
        },
        { name: 'herald_stored_empty', url: await createSeatableSource(empty), pid: empty.pid },
      ],
      { rounds: quick ? 2 : 3, seconds: 5, cluster },
    );
    return { rps: results[`herald_stored_${label}`].rps, emptyRps: results.herald_stored_empty.rps, label };
  } finally {
    for (const gateway of running) await gateway.stop();
  }
}
