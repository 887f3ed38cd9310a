// Ingest → subscriber latency: SeaTable webhooks posted open-loop at a fixed rate, half of them matching
// the subscribers' filter, received by N socket.io subscribers on a worker thread. Herald (HTTP → commit
// → log tail → fan-out) against a bare socket.io server that broadcasts each posted body, no database.
import { now, percentile, printFigure, sleep } from '../support/figures.mjs';
import { postJson } from '../support/http-load.mjs';
import { startBaseline, startGateway } from '../support/processes.mjs';
import { seatableBody } from '../support/seatable.mjs';
import { startSubscribers } from '../support/subscribers.mjs';
import { createSeatableSource } from './ingest.mjs';

const TYPES = ['seatable.row.modified'];

async function openLoop({ url, rate, seconds, tag }) {
  const total = rate * seconds;
  const sent = new Map(); // row id of a matching, accepted event → send time
  const lags = [];
  let errors = 0;
  const inflight = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    lags.push(Math.max(0, performance.now() - due));
    const matching = i % 2 === 0;
    const rowId = `${tag}-${i}`;
    const at = now();
    inflight.push(
      postJson(url, seatableBody(rowId, matching ? 'modify_row' : 'insert_row', Date.now() / 1000 + i / 1e6))
        .then(({ status }) => {
          if (status !== 202) errors++;
          else if (matching) sent.set(rowId, at);
        })
        .catch(() => void errors++),
    );
  }
  await Promise.all(inflight);
  return {
    sent,
    errors,
    achieved: total / ((performance.now() - started) / 1000),
    lagP99: percentile(lags, 99),
  };
}

async function measure({ name, target, subscribers, rate, seconds, ingestUrl, socketUrl, token }) {
  const subs = await startSubscribers({ url: socketUrl, token, count: subscribers, types: TYPES });
  try {
    const run = await openLoop({ url: ingestUrl, rate, seconds, tag: `${target}${name}` });
    await sleep(2_000);
    const receipts = await subs.receipts();
    const latencies = [];
    let received = 0;
    for (const [rowId, at] of run.sent) {
      for (const t of receipts.get(rowId) ?? []) {
        latencies.push(t - at);
        received++;
      }
    }
    const lost = run.sent.size * subscribers - received;
    const prefix = `${target}_subscribers_${name}`;
    printFigure(`${prefix}_generator_achieved`, Math.round(run.achieved), 'events/s');
    printFigure(`${prefix}_generator_lag_p99`, run.lagP99, 'ms');
    if (run.errors > 0) printFigure(`${prefix}_ingest_errors`, run.errors, 'requests');
    printFigure(`${prefix}_p50`, percentile(latencies, 50), 'ms');
    printFigure(`${prefix}_p99`, percentile(latencies, 99), 'ms');
    printFigure(`${prefix}_lost`, lost, 'messages');
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), lost };
  } finally {
    await subs.close();
  }
}

export async function subscribersSection({ quick, liveUrl }) {
  const seconds = quick ? 5 : 10;
  const loads = [
    { name: '100x500', subscribers: 100, rate: 500 },
    { name: '1000x20', subscribers: 1000, rate: 20 },
  ];
  const results = [];
  for (const load of loads) {
    const result = { name: load.name };
    const bare = await startBaseline('broadcast-server.mjs');
    try {
      result.baseline = await measure({
        ...load,
        seconds,
        target: 'baseline',
        ingestUrl: `${bare.baseUrl}/ingest`,
        socketUrl: `${bare.baseUrl}/events`,
      });
    } finally {
      await bare.stop();
    }
    const gateway = await startGateway({ DATABASE_URL: liveUrl });
    try {
      result.herald = await measure({
        ...load,
        seconds,
        target: 'herald',
        ingestUrl: await createSeatableSource(gateway),
        socketUrl: `${gateway.baseUrl}/events`,
        token: gateway.adminToken,
      });
    } finally {
      await gateway.stop();
    }
    results.push(result);
  }
  return results;
}
