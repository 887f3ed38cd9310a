// Outbound webhooks to a loopback receiver: Herald's ingest → delivery latency while live, and its
// drain rate for a replayed backlog (counted once every delivery is recorded delivered, with its
// attempt stored), against a bare undici POST loop (16 connections, Herald's per-endpoint limit).
import { createServer } from 'node:http';
import { Worker } from 'node:worker_threads';
import { serverAndPostgresCpuSeconds } from '../support/cpu.mjs';
import { now, percentile, printFigure, printNote, sleep } from '../support/figures.mjs';
import { api, loadTest, postJson } from '../support/http-load.mjs';
import { startGateway } from '../support/processes.mjs';
import { printStatements, resetStatements } from '../support/pg-statements.mjs';
import { withClient } from '../support/postgres.mjs';

const PER_ENDPOINT_CONCURRENCY = 16;

async function startReceiver() {
  const arrivals = new Map(); // webhook-id → first arrival (shared clock)
  let sample = '';
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
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
  const sentAt = new Map();
  const inflight = [];
  const total = rate * seconds;
  const cpuBefore = cpuOf(gateway, cluster);
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    const at = now();
    const body = JSON.stringify({ type: 'bench.live', data: { n: i } });
    inflight.push(
      postJson(`${gateway.baseUrl}/v1/events`, body, headers).then(({ status, text }) => {
        if (status === 201 || status === 202 || status === 200) sentAt.set(JSON.parse(text).id, at);
      }),
    );
  }
  await Promise.all(inflight);
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

async function heraldDrain(gateway, cluster, receiver, liveUrl, count) {
  const call = (method, path, body) => api(gateway.baseUrl, gateway.adminToken, method, path, body);
  const since = new Date(Date.now() - 1_000).toISOString();
  await sleep(1_100); // `since` strictly before the backlog, after the live phase
  const publish = await loadTest({
    url: `${gateway.baseUrl}/v1/events`,
    body: JSON.stringify({ type: 'bench.backlog', subject: 'bench/[<id>]', data: { row: '[<id>]', n: 1 } }),
    headers: { authorization: `Bearer ${gateway.adminToken}` },
    amount: count,
  });
  if (publish.ok !== count) throw new Error(`published ${publish.ok} of ${count} backlog events`);
  const endpoint = await call('POST', '/v1/endpoints', {
    url: receiver.url,
    filter: { types: ['bench.backlog'] },
  });
  return withClient(liveUrl, async (client) => {
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
    const arrivedBefore = receiver.arrivals.size;
    const cpuBefore = cpuOf(gateway, cluster);
    const started = performance.now();
    const replay = await call('POST', `/v1/endpoints/${endpoint.id}/replay`, { since });
    if (replay.deliveries !== count) throw new Error(`replay queued ${replay.deliveries} of ${count}`);
    // The receiver counts arrivals for free; the database is asked only once all have arrived, so the
    // bench's own polling does not take Postgres time from the drain it measures.
    await until(() => receiver.arrivals.size - arrivedBefore >= count, 300_000, 'the backlog to arrive');
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
    printFigure('herald_deliveries_backlog', count, 'events');
    printFigure('herald_deliveries_rate', rate, 'deliveries/s');
    printFigure('herald_delivery_attempts_stored', attempts, 'attempts');
    // Less noisy than the rate on a shared machine: what a change costs or saves shows here first.
    for (const part of ['gateway', 'postgres', 'receiver']) {
      const micros = ((cpuAfter[part] - cpuBefore[part]) * 1e6) / count;
      printFigure(`herald_deliveries_cpu_per_delivery_${part}`, Math.round(micros), 'µs');
    }
    await printStatements(client, count, 'delivery');
    return rate;
  });
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
  const result = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  printFigure('baseline_undici_deliveries_rate', result.rate, 'deliveries/s');
  printFigure('baseline_undici_cpu_per_delivery_loop_and_receiver', Math.round(result.cpuPerRequest), 'µs');
  if (result.failed) printFigure('baseline_undici_failed', result.failed, 'requests');
  return result.rate;
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
      await printStatements(client, live.rate * live.seconds, 'live event', 10);
    });
    const herald = await heraldDrain(gateway, cluster, receiver, liveUrl, count);
    await gateway.stop();
    // As warm as Herald's gateway: as many requests first as the live phase delivered.
    const warmup = live.rate * live.seconds;
    const baseline = await undiciLoop(receiver, count, warmup);
    printNote(
      `baseline_undici: ${PER_ENDPOINT_CONCURRENCY} connections, Herald's per-endpoint concurrency, timed after ${warmup} untimed requests`,
    );
    return { herald, baseline };
  } finally {
    await gateway.stop();
    await receiver.close();
  }
}
