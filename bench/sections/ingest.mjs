// Durable ingest: SeaTable webhook bodies, 64 connections, against Herald and two bare node:http + pg
// servers on the same Postgres cluster (one INSERT per request; batched group commit).
import { printFigure, printNote } from '../support/figures.mjs';
import { api, loadTest } from '../support/http-load.mjs';
import { startBaseline, startGateway } from '../support/processes.mjs';
import { seatableTemplate } from '../support/seatable.mjs';

/** Full load (64 connections) then p50/p99 at half the rate it reached. */
export async function measureIngest(name, url, { seconds, cluster, half = true }) {
  await loadTest({ url, body: seatableTemplate(), seconds: 1 }); // warm-up (JIT, pools, caches)
  await cluster.checkpoint();
  const full = await loadTest({ url, body: seatableTemplate(), seconds });
  printFigure(`${name}_ingest_throughput`, Math.round(full.rps), 'req/s');
  if (full.non2xx + full.errors > 0)
    printFigure(`${name}_ingest_failed`, full.non2xx + full.errors, 'requests');
  if (!half) return { rps: full.rps };
  const rate = Math.max(1, Math.round(full.rps / 2));
  const halfLoad = await loadTest({ url, body: seatableTemplate(), seconds, overallRate: rate });
  printFigure(`${name}_ingest_half_load_offered`, rate, 'req/s');
  printFigure(`${name}_ingest_half_load_achieved`, Math.round(halfLoad.rps), 'req/s');
  printFigure(`${name}_ingest_half_load_p50`, halfLoad.p50, 'ms');
  printFigure(`${name}_ingest_half_load_p99`, halfLoad.p99, 'ms');
  return { rps: full.rps, p50: halfLoad.p50, p99: halfLoad.p99 };
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
  const seconds = quick ? 5 : 10;
  const results = {};

  const nullServer = await startBaseline('null-server.mjs');
  try {
    const ceiling = await loadTest({ url: `${nullServer.baseUrl}/`, body: seatableTemplate(), seconds: 3 });
    printFigure('generator_ceiling', Math.round(ceiling.rps), 'req/s');
    printNote('generator_ceiling: autocannon, 64 connections, against a server that answers 202 at once');
    results.ceiling = ceiling.rps;
  } finally {
    await nullServer.stop();
  }

  for (const mode of ['single', 'batched']) {
    const database = await cluster.createDatabase(`baseline_${mode}`);
    const server = await startBaseline('ingest-server.mjs', [mode, database]);
    try {
      results[mode] = await measureIngest(`baseline_${mode}`, `${server.baseUrl}/ingest`, {
        seconds,
        cluster,
      });
    } finally {
      await server.stop();
    }
  }

  const gateway = await startGateway({ DATABASE_URL: heraldUrl });
  try {
    const ingestUrl = await createSeatableSource(gateway);
    results.herald = await measureIngest('herald', ingestUrl, { seconds, cluster });
    results.sourceIngestUrl = ingestUrl;
  } finally {
    await gateway.stop();
  }
  return results;
}
