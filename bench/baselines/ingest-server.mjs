// Bare durable-ingest baseline: node:http + pg, no framework. Parses the SeaTable body, then stores it
// durably in a table shaped like Herald's `events` (same columns and indexes) before answering 202.
//   node ingest-server.mjs single  <databaseUrl>   one INSERT (one commit) per request, pool of 20
//   node ingest-server.mjs batched <databaseUrl>   requests wait; one multi-row INSERT per batch, 202 after COMMIT
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import pg from 'pg';

const [mode, databaseUrl] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });

await pool.query(`
  CREATE SEQUENCE IF NOT EXISTS bench_event_seq AS bigint;
  CREATE TABLE IF NOT EXISTS bench_events (
    seq bigint PRIMARY KEY, id uuid NOT NULL UNIQUE, type text NOT NULL, source_id uuid NOT NULL,
    provider text NOT NULL, subject text, time timestamptz NOT NULL, received_at timestamptz NOT NULL,
    data jsonb NOT NULL, raw bytea, raw_content_type text, dedup_key text);
  CREATE UNIQUE INDEX IF NOT EXISTS bench_events_dedup ON bench_events (source_id, dedup_key) WHERE dedup_key IS NOT NULL;
  CREATE INDEX IF NOT EXISTS bench_events_source_seq ON bench_events (source_id, seq);
  CREATE INDEX IF NOT EXISTS bench_events_type_seq ON bench_events (type, seq);
  CREATE INDEX IF NOT EXISTS bench_events_time ON bench_events (time);
  CREATE INDEX IF NOT EXISTS bench_events_received_at ON bench_events (received_at);`);

const SOURCE = randomUUID();
const COLUMNS =
  'seq, id, type, source_id, provider, subject, time, received_at, data, raw, raw_content_type, dedup_key';

function toRow(raw) {
  const { data } = JSON.parse(raw.toString('utf8'));
  const time = new Date(Math.round(data.op_time * 1000));
  return [
    randomUUID(),
    data.op_type === 'modify_row' ? 'seatable.row.modified' : 'seatable.row.inserted',
    SOURCE,
    'seatable',
    `tables/${data.table_id}/rows/${data.row_id}`,
    time,
    new Date(),
    JSON.stringify(data),
    raw,
    'application/json',
    [data.dtable_uuid, data.table_id, data.row_id, data.op_type, time.getTime()].join(':'),
  ];
}

async function insertOne(row) {
  await pool.query(
    `INSERT INTO bench_events (${COLUMNS}) VALUES (nextval('bench_event_seq'), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (source_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING`,
    row,
  );
}

const queue = [];
let draining = false;
async function drain() {
  draining = true;
  while (queue.length > 0) {
    const batch = queue.splice(0, 1_000);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO bench_events (${COLUMNS})
         SELECT nextval('bench_event_seq'), u.* FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[],
           $6::timestamptz[], $7::timestamptz[], $8::jsonb[], $9::bytea[], $10::text[], $11::text[]) AS u
         ON CONFLICT (source_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING`,
        Array.from({ length: 11 }, (_, column) => batch.map((b) => b.row[column])),
      );
      await client.query('COMMIT');
      for (const b of batch) b.resolve();
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      for (const b of batch) b.reject(error);
    } finally {
      client.release();
    }
  }
  draining = false;
}

function insertBatched(row) {
  return new Promise((resolve, reject) => {
    queue.push({ row, resolve, reject });
    if (!draining) void drain();
  });
}

const insert = mode === 'batched' ? insertBatched : insertOne;
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let row;
    try {
      row = toRow(Buffer.concat(chunks));
    } catch {
      return void res.writeHead(400).end();
    }
    insert(row).then(
      () => {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ accepted: 1, ids: [row[0]] }));
      },
      () => res.writeHead(503).end(),
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0)); // a baseline needs no graceful stop
