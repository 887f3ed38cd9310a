// Ingest → subscriber latency: a Herald process on a throwaway embedded Postgres, N socket subscribers,
// SeaTable webhooks posted at a fixed rate (open loop). Prints `name value unit` lines.
//   node apps/gateway/bench/subscriber-latency.mjs [--subscribers 100] [--rate 500] [--seconds 10] [--match 1]
// Needs a build first (`pnpm build`). --match is the share of events the subscribers' filter matches.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { startGatewayProcess } from './support/gateway-process.mjs';
import { percentile, printFigure } from './support/figures.mjs';
import { postJson } from './support/http-load.mjs';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '100' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    match: { type: 'string', default: '1' },
  },
});
const subscribers = Number(values.subscribers);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const matchShare = Number(values.match);

const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
const herald = await startGatewayProcess({ HERALD_DATA_DIR: dataDir });
try {
  const headers = { authorization: `Bearer ${herald.adminToken}`, 'content-type': 'application/json' };
  const source = await (
    await fetch(`${herald.baseUrl}/v1/sources`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'bench', provider: 'seatable', mode: 'webhook' }),
    })
  ).json();

  const received = new Map(); // event id → receive times
  const sockets = [];
  for (let i = 0; i < subscribers; i++) {
    const socket = io(`${herald.baseUrl}/events`, {
      auth: { token: herald.adminToken },
      transports: ['websocket'],
      forceNew: true,
    });
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const ack = await socket.emitWithAck('subscribe', { types: ['seatable.row.modified'] });
    if (!ack.ok) throw new Error(ack.error.message);
    socket.on('event', ({ event }) => {
      const now = performance.now();
      const list = received.get(event.id);
      if (list) list.push(now);
      else received.set(event.id, [now]);
    });
    sockets.push(socket);
  }

  const body = (i, matching) =>
    JSON.stringify({
      event: 'update',
      data: {
        dtable_uuid: 'fae0a3a42ba94df88e8303fd385e37de',
        row_id: `row${i}`,
        op_user: 'bench@auth.local',
        op_type: matching ? 'modify_row' : 'insert_row',
        op_time: Date.now() / 1000 + i / 1e6,
        table_id: '0000',
        table_name: 'Bench',
        row_name: `row ${i}`,
        row_data: [
          { column_key: '0000', column_name: 'Name', column_type: 'text', value: `v${i}`, old_value: 'old' },
        ],
        op_app: null,
      },
    });

  const accepted = new Map(); // event id → {sent, acked}
  const total = rate * seconds;
  const started = performance.now();
  const inflight = [];
  let errors = 0;
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const matching = (i % 100) / 100 < matchShare;
    const sent = performance.now();
    inflight.push(
      postJson(source.ingestUrl, body(i, matching))
        .then(({ status, text }) => {
          const acked = performance.now();
          if (status !== 202) return void errors++;
          if (matching) accepted.set(JSON.parse(text).ids[0], { sent, acked });
        })
        .catch(() => void errors++),
    );
  }
  await Promise.all(inflight);
  const sendSeconds = (performance.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 2_000));

  const fromAck = [];
  const fromSend = [];
  let missing = 0;
  for (const [id, { sent, acked }] of accepted) {
    const times = received.get(id) ?? [];
    missing += subscribers - times.length;
    for (const t of times) {
      fromAck.push(t - acked);
      fromSend.push(t - sent);
    }
  }
  printFigure('subscribers', subscribers, 'sockets');
  printFigure('ingest_rate_offered', rate, 'events/s');
  printFigure('ingest_rate_achieved', Math.round(total / sendSeconds), 'events/s');
  printFigure('ingest_errors', errors, 'requests');
  printFigure('deliveries_missing', missing, 'events');
  printFigure('latency_202_to_receipt_p50', percentile(fromAck, 50).toFixed(1), 'ms');
  printFigure('latency_202_to_receipt_p99', percentile(fromAck, 99).toFixed(1), 'ms');
  printFigure('latency_send_to_receipt_p50', percentile(fromSend, 50).toFixed(1), 'ms');
  printFigure('latency_send_to_receipt_p99', percentile(fromSend, 99).toFixed(1), 'ms');
  for (const socket of sockets) socket.close();
} finally {
  await herald.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
