// pnpm bench [--quick] [--only ingest,subscribers,deliveries,rss,stored,retention]
// Herald (the built gateway, its own process) and bare baselines, in one run on one machine, on one
// throwaway embedded Postgres cluster. Prints `name value unit` lines and Herald/baseline ratios.
// The retention study (batched deletes against day partitions, issue 7's decision) runs only when
// named: it has no goal here, and with it a full run passed 10 minutes on a slow day (650 s, 2026-12-06).
import { parseArgs } from 'node:util';
import { printFigure, printNote, printRatio } from './support/figures.mjs';
import { startCluster } from './support/postgres.mjs';
import { ingestSection } from './sections/ingest.mjs';
import { storedSection } from './sections/stored.mjs';
import { subscribersSection } from './sections/subscribers.mjs';
import { deliveriesSection } from './sections/deliveries.mjs';
import { idleRssSection } from './sections/idle-rss.mjs';
import { retentionSection } from './sections/retention.mjs';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: 'ingest,subscribers,deliveries,rss,stored' },
  },
});
const quick = values.quick;
const only = new Set(values.only.split(','));
if (only.has('stored')) only.add('ingest'); // the stored figure is a ratio to the empty-store ingest

const started = performance.now();
const cluster = await startCluster();
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await cluster.stop();
}
process.on('SIGINT', () => void stop().then(() => process.exit(130)));

const ratios = [];
/** Sections that compare Herald with a baseline that has no database start on a settled cluster. */
async function settle() {
  const began = performance.now();
  await cluster.settle();
  printNote(
    `cluster settled (VACUUM ANALYZE, CHECKPOINT) in ${((performance.now() - began) / 1000).toFixed(1)} s`,
  );
}
try {
  printNote(
    `herald bench${quick ? ' --quick' : ''}: node ${process.version}, postgres ${await cluster.version()}`,
  );
  const heraldUrl = await cluster.createDatabase('herald');
  const liveUrl = await cluster.createDatabase('herald_live');

  let ingest;
  if (only.has('ingest')) {
    ingest = await ingestSection({ cluster, quick, heraldUrl });
    ratios.push(['ratio_ingest_vs_batched', ingest.herald.rps, ingest.batched.rps, '>= 0.8']);
    ratios.push(['ratio_ingest_vs_single', ingest.herald.rps, ingest.single.rps, 'none, for context']);
    // Less noisy than throughput on a shared machine: the CPU each request costs, server and Postgres.
    const cpuPerRequest = ({ serverCpu, postgresCpu }) => serverCpu + postgresCpu;
    ratios.push([
      'ratio_ingest_cpu_per_request_vs_batched',
      cpuPerRequest(ingest.herald),
      cpuPerRequest(ingest.batched),
      'none, for context: lower is better',
    ]);
  }
  if (only.has('subscribers')) {
    await settle();
    for (const load of await subscribersSection({ cluster, quick, liveUrl })) {
      ratios.push([
        `ratio_subscriber_p99_${load.name}`,
        load.herald.p99,
        load.baseline.p99,
        '<= 1.5, lost 0',
      ]);
      if (load.compare)
        ratios.push([
          `ratio_compare_subscriber_p99_${load.name}`,
          load.compare.p99,
          load.baseline.p99,
          'none, A/B',
        ]);
    }
  }
  if (only.has('deliveries')) {
    await settle();
    const deliveries = await deliveriesSection({ cluster, quick, liveUrl });
    ratios.push(['ratio_deliveries_vs_undici', deliveries.herald, deliveries.baseline, '>= 0.3']);
  }
  if (only.has('rss')) await idleRssSection({ quick, liveUrl });
  if (only.has('stored')) {
    const stored = await storedSection({
      cluster,
      quick,
      heraldUrl,
      ingestUrl: ingest.sourceIngestUrl,
    });
    ratios.push([`ratio_ingest_stored_${stored.label}_vs_empty`, stored.rps, stored.emptyRps, '>= 0.9']);
  }
  if (only.has('retention')) await retentionSection({ cluster, quick });
  for (const [name, herald, baseline, goal] of ratios) printRatio(name, herald, baseline, goal);
  printFigure('bench_duration', Math.round((performance.now() - started) / 1000), 's');
} finally {
  await stop();
}
