// Durable ingest: SeaTable webhook bodies, 64 connections, against Herald and two bare node:http + pg
// servers on the same Postgres cluster (one INSERT per request; batched group commit). All three run at
// once and are measured in interleaved rounds (median reported), so a noisy neighbour on a shared
// machine hits each of them alike.
import { serverAndPostgresCpuSeconds } from '../support/cpu.mjs';
import { median, printFigure, printNote } from '../support/figures.mjs';
import { api, loadTest } from '../support/http-load.mjs';
import { startBaseline, startGateway } from '../support/processes.mjs';
import { seatableTemplate } from '../support/seatable.mjs';

/**
 * Throughput rounds at 64 connections; returns the median requests/s and the median CPU per request of
 * the target's process and of Postgres (the whole cluster, which only that target loads in its round).
 * `pid` is the target's server process.
 */
export async function ingestRounds(targets, { rounds, seconds, cluster }) {
  for (const target of targets) await loadTest({ url: target.url, body: seatableTemplate(), seconds: 1 }); // warm-up
  const samples = new Map(targets.map((t) => [t.name, { rps: [], serverCpu: [], postgresCpu: [] }]));
  const cpu = (target) => serverAndPostgresCpuSeconds(target.pid, cluster);
  for (let round = 0; round < rounds; round++) {
    // Each round starts with the next target, so none is always measured first (right after a
    // checkpoint, a seeding or a neighbour's burst).
    const order = targets.map((_, i) => targets[(i + round) % targets.length]);
    for (const target of order) {
      await cluster.checkpoint();
      const before = cpu(target);
      const run = await loadTest({ url: target.url, body: seatableTemplate(), seconds });
      const after = cpu(target);
      if (run.non2xx + run.errors > 0)
        printFigure(`${target.name}_ingest_failed`, run.non2xx + run.errors, 'requests');
      const sample = samples.get(target.name);
      sample.rps.push(run.rps);
      sample.serverCpu.push(((after.server - before.server) * 1e6) / run.ok);
      sample.postgresCpu.push(((after.postgres - before.postgres) * 1e6) / run.ok);
    }
  }
  const results = {};
  for (const target of targets) {
    const sample = samples.get(target.name);
    const result = {
      rps: median(sample.rps),
      serverCpu: median(sample.serverCpu),
      postgresCpu: median(sample.postgresCpu),
    };
    printFigure(`${target.name}_ingest_throughput`, Math.round(result.rps), 'req/s');
    printFigure(`${target.name}_ingest_cpu_per_request_server`, Math.round(result.serverCpu), 'µs');
    printFigure(`${target.name}_ingest_cpu_per_request_postgres`, Math.round(result.postgresCpu), 'µs');
    results[target.name] = result;
  }
  return results;
}

/** p50/p99 at half the rate the target reached at full load. */
async function halfLoad(name, url, rps, seconds) {
  const rate = Math.max(1, Math.round(rps / 2));
  const run = await loadTest({ url, body: seatableTemplate(), seconds, overallRate: rate });
  printFigure(`${name}_ingest_half_load_offered`, rate, 'req/s');
  printFigure(`${name}_ingest_half_load_achieved`, Math.round(run.rps), 'req/s');
  printFigure(`${name}_ingest_half_load_p50`, run.p50, 'ms');
  printFigure(`${name}_ingest_half_load_p99`, run.p99, 'ms');
  return { p50: run.p50, p99: run.p99 };
}

/** A webhook-mode SeaTable source on a running gateway; returns its ingest URL. */
export async function createSeatableSource(gateway) {
  const source = await api(gateway.baseUrl, gateway.adminToken, 'POST', '/v1/sources', {
    name: 'bench',
    provider: 'seatable',
    mode: 'webhook',
  });
  return source.ingestUrl;
}

export async function ingestSection({ cluster, quick, heraldUrl }) {
  const seconds = 5;
  const rounds = quick ? 1 : 3;

  const nullServer = await startBaseline('null-server.mjs');
  try {
    const ceiling = await loadTest({ url: `${nullServer.baseUrl}/`, body: seatableTemplate(), seconds: 3 });
    printFigure('generator_ceiling', Math.round(ceiling.rps), 'req/s');
    printNote('generator_ceiling: autocannon, 64 connections, against a server that answers 202 at once');
  } finally {
    await nullServer.stop();
  }

  const running = [];
  try {
    const targets = [];
    for (const mode of ['single', 'batched']) {
      const server = await startBaseline('ingest-server.mjs', [
        mode,
        await cluster.createDatabase(`baseline_${mode}`),
      ]);
      running.push(server);
      targets.push({ name: `baseline_${mode}`, url: `${server.baseUrl}/ingest`, pid: server.pid });
    }
    const gateway = await startGateway({ DATABASE_URL: heraldUrl });
    running.push(gateway);
    const sourceIngestUrl = await createSeatableSource(gateway);
    targets.push({ name: 'herald', url: sourceIngestUrl, pid: gateway.pid });

    printNote(`ingest: ${rounds} interleaved round(s) of ${seconds} s per target, median shown`);
    const results = await ingestRounds(targets, { rounds, seconds, cluster });
    for (const target of targets) {
      Object.assign(
        results[target.name],
        await halfLoad(target.name, target.url, results[target.name].rps, seconds),
      );
    }
    return {
      single: results.baseline_single,
      batched: results.baseline_batched,
      herald: results.herald,
      sourceIngestUrl,
    };
  } finally {
    for (const server of running) await server.stop();
  }
}
