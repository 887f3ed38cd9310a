// Outbound webhook throughput and latency against the built gateway (run `pnpm build` first):
//   node bench/delivery-bench.mjs            # embedded Postgres in a temp dir
//   DATABASE_URL=postgres://… node bench/delivery-bench.mjs
// Prints `name value unit` lines. Not part of the test suite.
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../dist/config/herald-config.js';
import { createApp } from '../dist/create-app.js';
import { startEmbeddedPostgres } from '../dist/database/embedded-postgres.js';

const LATENCY_EVENTS = Number(process.env.BENCH_LATENCY_EVENTS ?? 2_000);
const BACKLOG_EVENTS = Number(process.env.BENCH_BACKLOG_EVENTS ?? 10_000);
const PUBLISHERS = 16;
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

function report(name, value, unit) {
  console.log(`${name} ${Number.isInteger(value) ? value : value.toFixed(2)} ${unit}`);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function startReceiver() {
  const arrivals = new Map();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = req.headers['webhook-id'];
      if (!arrivals.has(id)) arrivals.set(id, performance.now());
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, arrivals, server };
}

let dataDir;
let embedded;
let databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  embedded = await startEmbeddedPostgres({ dataDir, persistent: false, database: 'postgres' });
  databaseUrl = embedded.url;
}

const config = loadConfig({
  DATABASE_URL: databaseUrl,
  HERALD_ADMIN_TOKEN: ADMIN_TOKEN,
  HERALD_ALLOW_PRIVATE_TARGETS: 'true',
  HOST: '127.0.0.1',
  PORT: '0',
});
const app = await createApp(config, pino({ level: 'warn' }));
await app.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${app.getHttpServer().address().port}`;
const receiver = await startReceiver();

async function api(method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json();
}

async function publishAll(type, count, sentAt) {
  let next = 0;
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async () => {
      while (next < count) {
        next++;
        const started = performance.now();
        const event = await api('POST', '/v1/events', { type, data: { n: next } });
        sentAt?.set(event.id, started);
      }
    }),
  );
}

async function until(condition) {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

try {
  // Latency: events published by 16 concurrent clients while the endpoint is live.
  const live = await api('POST', '/v1/endpoints', { url: receiver.url, filter: { types: ['bench.live'] } });
  const sentAt = new Map();
  await publishAll('bench.live', LATENCY_EVENTS, sentAt);
  await until(() => receiver.arrivals.size >= LATENCY_EVENTS);
  const latencies = [...sentAt].map(([id, sent]) => receiver.arrivals.get(id) - sent).sort((a, b) => a - b);
  report('ingest_to_delivery_p50', percentile(latencies, 50), 'ms');
  report('ingest_to_delivery_p99', percentile(latencies, 99), 'ms');
  await api('PATCH', `/v1/endpoints/${live.id}`, { enabled: false });

  // Throughput: a backlog of stored events replayed to a new endpoint in one go, then drained.
  const backlogSince = new Date().toISOString();
  const ingestStarted = performance.now();
  await publishAll('bench.backlog', BACKLOG_EVENTS);
  report('ingest_rate', BACKLOG_EVENTS / ((performance.now() - ingestStarted) / 1000), 'events/s');
  const backlog = await api('POST', '/v1/endpoints', {
    url: receiver.url,
    filter: { types: ['bench.backlog'] },
  });
  const before = receiver.arrivals.size;
  const drainStarted = performance.now();
  const replayed = await api('POST', `/v1/endpoints/${backlog.id}/replay`, { since: backlogSince });
  if (replayed.deliveries !== BACKLOG_EVENTS) throw new Error(`replay queued ${replayed.deliveries}`);
  await until(() => receiver.arrivals.size >= before + BACKLOG_EVENTS);
  report('delivery_rate', BACKLOG_EVENTS / ((performance.now() - drainStarted) / 1000), 'deliveries/s');
} finally {
  await app.close();
  receiver.server.close();
  await embedded?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
