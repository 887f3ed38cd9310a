// Ingest with millions of events already stored vs the empty store of the ingest section: seeded
// server-side (INSERT … SELECT FROM generate_series, the fastest path: no bytes cross the socket), into
// the same source, with Herald's indexes in place, then VACUUM ANALYZE + CHECKPOINT as a store at rest.
import { printFigure, printNote } from '../support/figures.mjs';
import { startGateway } from '../support/processes.mjs';
import { withClient } from '../support/postgres.mjs';
import { measureIngest } from './ingest.mjs';

export async function seedEvents(databaseUrl, sourceId, count) {
  const started = performance.now();
  await withClient(databaseUrl, async (client) => {
    const { rows } = await client.query('SELECT coalesce(max(seq), 0)::bigint AS max FROM events');
    const base = BigInt(rows[0].max);
    // Row ids spread like real ones (md5), so the live inserts land all over the dedup-key index.
    // UUIDv7-shaped ids, ascending with seq; times within the retention window (no purge kicks in).
    await client.query(
      `INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data, raw, raw_content_type, dedup_key)
       SELECT $1::bigint + g,
              ('01900000-0000-7000-8000-' || lpad(to_hex($1::bigint + g), 12, '0'))::uuid,
              CASE WHEN g % 2 = 0 THEN 'seatable.row.modified' ELSE 'seatable.row.inserted' END,
              $2::uuid, 'seatable', 'tables/0000/rows/' || r.id,
              t.at, t.at,
              jsonb_build_object('rowId', r.id, 'tableId', '0000', 'opType', 'modify_row'),
              NULL, 'application/json',
              'fae0a3a42ba94df88e8303fd385e37de:0000:' || r.id || ':modify_row:' || g
       FROM generate_series(1, $3::bigint) AS g,
            LATERAL (SELECT md5(g::text) AS id) AS r,
            LATERAL (SELECT now() - interval '2 days' + g * interval '1 millisecond' AS at) AS t`,
      [String(base), sourceId, count],
    );
    await client.query(`SELECT setval('event_seq', $1::bigint)`, [String(base + BigInt(count))]);
    await client.query('VACUUM ANALYZE events');
    await client.query('CHECKPOINT');
  });
  return (performance.now() - started) / 1000;
}

export async function storedSection({ cluster, quick, heraldUrl, ingestUrl, emptyRps }) {
  const count = quick ? 1_000_000 : 10_000_000;
  const label = quick ? '1m' : '10m';
  const sourceId = new URL(ingestUrl).pathname.split('/')[3];
  const seedSeconds = await seedEvents(heraldUrl, sourceId, count);
  printFigure(`seed_${label}_events`, seedSeconds, 's');
  if (quick) printNote('--quick seeds 1M stored events instead of 10M');
  const gateway = await startGateway({ DATABASE_URL: heraldUrl });
  try {
    const url = gateway.baseUrl + new URL(ingestUrl).pathname;
    const stored = await measureIngest(`herald_stored_${label}`, url, {
      seconds: quick ? 5 : 10,
      cluster,
      half: false,
    });
    return { rps: stored.rps, emptyRps, label };
  } finally {
    await gateway.stop();
  }
}
