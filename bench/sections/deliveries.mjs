// Outbound webhooks to a loopback receiver: Herald's ingest → delivery latency while live, and its
// drain rate for a replayed backlog (counted once every delivery is recorded delivered, with its
// attempt stored), against a bare undici POST loop (16 connections, Herald's per-endpoint limit), in
// interleaved rounds.
import { createServer } from 'node:http';
import { Worker } from 'node:worker_threads';
import { serverAndPostgresCpuSeconds } from '../support/cpu.mjs';
import { median, now, percentile, printFigure, printNote, sleep } from '../support/figures.mjs';
import { api, loadTest, postJson } from '../support/http-load.mjs';
import { openLoop } from '../support/open-loop.mjs';
import { startGateway } from '../support/processes.mjs';
import { printStatements, resetStatements } from '../support/pg-statements.mjs';
import { withClient } from '../support/postgres.mjs';

const PER_ENDPOINT_CONCURRENCY = 16;
// Unmeasured seconds at the live rate first: the gateway's first ~0.3 s after start (cold code, the
// receiver's first connections) took 40–117 ms per delivery, which alone set the quick run's p99.
const LIVE_WARMUP_SECONDS = 2;
// One drain and one loop alone swung far apart between runs (the loop 14,905–31,455/s on one day,
// docs/performance.md), with whatever else the machine ran that second: like the subscribers section,
// interleaved rounds and the medians.
const DRAIN_ROUNDS = 3;
// Untimed requests before each loop round, so it is as warm as Herald's gateway is by its drains (the
// live phase, the backlog's ingest): after 500 the loop ran at ~10,000/s, after 5,000 at ~26,000/s
// (2026-12-06, eleventh session), which made --quick read deliveries ratios of 0.3–0.5.
const LOOP_WARMUP = 5_000;

async function startReceiver() {
  const arrivals = new Map(); // webhook-id → first arrival (shared clock)
  let requests = 0; // every drain round replays the same events, so it counts requests, not ids
  let sample = '';
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      requests++;
      const id = req.headers['webhook-id'];
      if (!arrivals.has(id)) arrivals.set(id, now());
      if (!sample) sample = Buffer.concat(chunks).toString('utf8');
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    arrivals,
    requests: () => requests,
    sampleBody: () => sample,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function until(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function heraldLatency(gateway, cluster, receiver, { rate, seconds }) {
  const call = (method, path, body) => api(gateway.baseUrl, gateway.adminToken, method, path, body);
  const endpoint = await call('POST', '/v1/endpoints', {
    url: receiver.url,
    filter: { types: ['bench.live'] },
  });
  const headers = { authorization: `Bearer ${gateway.adminToken}` };
  const sentAt = new Map(); // measured event id → send time
  let cpuBefore;
  await openLoop({
    rate,
    warmup: LIVE_WARMUP_SECONDS,
    seconds,
    onMeasured: () => (cpuBefore = cpuOf(gateway, cluster)),
    send: (i, measured) => {
      const at = now();
      const body = JSON.stringify({ type: 'bench.live', data: { n: i } });
      return postJson(`${gateway.baseUrl}/v1/events`, body, headers).then(({ status, text }) => {
        if (measured && status >= 200 && status < 300) sentAt.set(JSON.parse(text).id, at);
      });
    },
  });
  const total = rate * seconds;
  await until(() => [...sentAt.keys()].every((id) => receiver.arrivals.has(id)), 60_000, 'live deliveries');
  const cpuAfter = cpuOf(gateway, cluster);
  const latencies = [...sentAt].map(([id, at]) => receiver.arrivals.get(id) - at);
  printFigure('herald_ingest_to_delivery_offered', rate, 'events/s');
  printFigure('herald_ingest_to_delivery_p50', percentile(latencies, 50), 'ms');
  printFigure('herald_ingest_to_delivery_p99', percentile(latencies, 99), 'ms');
  // Ingest and delivery together, per live event.
  for (const part of ['gateway', 'postgres']) {
    const micros = ((cpuAfter[part] - cpuBefore[part]) * 1e6) / total;
    printFigure(`herald_ingest_to_delivery_cpu_per_event_${part}`, Math.round(micros), 'µs');
  }
  await call('PATCH', `/v1/endpoints/${endpoint.id}`, { enabled: false });
}

/**
 * CPU seconds so far of the gateway, of the whole Postgres cluster and of this process (the receiver,
 * plus the bench's one count query per 20 ms once everything has arrived).
 */
function cpuOf(gateway, cluster) {
  const own = process.cpuUsage();
  const { server, postgres } = serverAndPostgresCpuSeconds(gateway.pid, cluster);
  return { gateway: server, postgres, receiver: (own.user + own.system) / 1e6 };
}

/** Publishes the backlog every drain round replays; returns a time strictly before its first event. */
async function publishBacklog(gateway, count) {
  const since = new Date(Date.now() - 1_000).toISOString();
  await sleep(1_100); // `since` strictly before the backlog, after the live phase
  const publish = await loadTest({
    url: `${gateway.baseUrl}/v1/events`,
    body: JSON.stringify({ type: 'bench.backlog', subject: 'bench/[<id>]', data: { row: '[<id>]', n: 1 } }),
    headers: { authorization: `Bearer ${gateway.adminToken}` },
    amount: count,
  });
  if (publish.ok !== count) throw new Error(`published ${publish.ok} of ${count} backlog events`);
  return since;
}

/**
 * One drain round: a new endpoint replays the whole backlog, timed until every delivery is recorded
 * delivered. Returns the rate, the attempts stored and the CPU per delivery of each process.
 */
async function heraldDrain({ gateway, cluster, receiver, client, count, since }) {
  const call = (method, path, body) => api(gateway.baseUrl, gateway.adminToken, method, path, body);
  const endpoint = await call('POST', '/v1/endpoints', {
    url: receiver.url,
    filter: { types: ['bench.backlog'] },
  });
  const delivered = async () =>
    Number(
      (
        await client.query(
          `SELECT count(*) FROM deliveries WHERE endpoint_id = $1 AND status = 'delivered'`,
          [endpoint.id],
        )
      ).rows[0].count,
    );
  await resetStatements(client);
  const arrivedBefore = receiver.requests();
  const cpuBefore = cpuOf(gateway, cluster);
  const started = performance.now();
  const replay = await call('POST', `/v1/endpoints/${endpoint.id}/replay`, { since });
  if (replay.deliveries !== count) throw new Error(`replay queued ${replay.deliveries} of ${count}`);
  // The receiver counts arrivals for free; the database is asked only once all have arrived, so the
  // bench's own polling does not take Postgres time from the drain it measures.
  await until(() => receiver.requests() - arrivedBefore >= count, 300_000, 'the backlog to arrive');
  await until(async () => (await delivered()) >= count, 60_000, 'the backlog to be recorded');
  const rate = count / ((performance.now() - started) / 1000);
  const cpuAfter = cpuOf(gateway, cluster);
  const attempts = Number(
    (
      await client.query(
        `SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = $1`,
        [endpoint.id],
      )
    ).rows[0].count,
  );
  await printStatements(client, count, 'delivery');
  await call('PATCH', `/v1/endpoints/${endpoint.id}`, { enabled: false });
  const cpu = {};
  for (const part of ['gateway', 'postgres', 'receiver'])
    cpu[part] = ((cpuAfter[part] - cpuBefore[part]) * 1e6) / count;
  return { rate, attempts, cpu };
}

async function undiciLoop(receiver, count, warmup) {
  const worker = new Worker(new URL('../support/undici-loop-worker.mjs', import.meta.url), {
    workerData: {
      url: receiver.url,
      count,
      warmup,
      concurrency: PER_ENDPOINT_CONCURRENCY,
      body: receiver.sampleBody() || JSON.stringify({ type: 'bench.backlog', data: { n: 1 } }),
    },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/**
 * Nothing left for autovacuum or a checkpoint to do in the live database, so neither lands in the next
 * round (a drain leaves two dead versions per delivery behind it).
 */
async function settleLive(client, cluster) {
  await client.query('VACUUM (ANALYZE) deliveries, delivery_attempts, events');
  await cluster.checkpoint();
}

export async function deliveriesSection({ cluster, quick, liveUrl }) {
  const receiver = await startReceiver();
  const gateway = await startGateway({ DATABASE_URL: liveUrl });
  const count = quick ? 5_000 : 20_000;
  const live = { rate: quick ? 100 : 200, seconds: quick ? 5 : 10 };
  try {
    await withClient(liveUrl, async (client) => {
      await resetStatements(client);
      await heraldLatency(gateway, cluster, receiver, live);
      // The statements count the warm-up's events too.
      await printStatements(client, live.rate * (LIVE_WARMUP_SECONDS + live.seconds), 'live event', 10);
    });
    const drains = [];
    const loops = [];
    await withClient(liveUrl, async (client) => {
      const since = await publishBacklog(gateway, count);
      // One untimed drain first, as the loop's rounds start warm: the live phase alone left Herald's
      // first timed drain at ~75% of the later ones.
      await settleLive(client, cluster);
      await heraldDrain({ gateway, cluster, receiver, client, count, since });
      for (let round = 0; round < DRAIN_ROUNDS; round++) {
        // Each round starts with the other target than the last, so neither always goes first.
        const order = round % 2 === 0 ? ['herald', 'undici'] : ['undici', 'herald'];
        for (const target of order) {
          await settleLive(client, cluster);
          if (target === 'herald')
            drains.push(await heraldDrain({ gateway, cluster, receiver, client, count, since }));
          else loops.push(await undiciLoop(receiver, count, LOOP_WARMUP));
        }
      }
    });
    const rates = (runs) => runs.map((run) => Math.round(run.rate).toLocaleString('en')).join(', ');
    printNote(
      `deliveries: ${DRAIN_ROUNDS} interleaved rounds of ${count} deliveries per target, median shown; herald ${rates(drains)}/s, undici ${rates(loops)}/s`,
    );
    const herald = median(drains.map((run) => run.rate));
    printFigure('herald_deliveries_backlog', count, 'events');
    printFigure('herald_deliveries_rate', herald, 'deliveries/s');
    printFigure(
      'herald_delivery_attempts_stored',
      drains.reduce((total, run) => total + run.attempts, 0),
      `attempts (of ${count * DRAIN_ROUNDS} deliveries)`,
    );
    // Less noisy than the rate on a shared machine: what a change costs or saves shows here first.
    for (const part of ['gateway', 'postgres', 'receiver']) {
      const micros = median(drains.map((run) => run.cpu[part]));
      printFigure(`herald_deliveries_cpu_per_delivery_${part}`, Math.round(micros), 'µs');
    }
    const baseline = median(loops.map((run) => run.rate));
    printFigure('baseline_undici_deliveries_rate', baseline, 'deliveries/s');
    printFigure(
      'baseline_undici_cpu_per_delivery_loop_and_receiver',
      Math.round(median(loops.map((run) => run.cpuPerRequest))),
      'µs',
    );
    const failed = loops.reduce((total, run) => total + run.failed, 0);
    if (failed) printFigure('baseline_undici_failed', failed, 'requests');
    printNote(
      `baseline_undici: ${PER_ENDPOINT_CONCURRENCY} connections, Herald's per-endpoint concurrency, each round timed after ${LOOP_WARMUP} untimed requests`,
    );
    return { herald, baseline };
  } finally {
    await gateway.stop();
    await receiver.close();
  }
}
