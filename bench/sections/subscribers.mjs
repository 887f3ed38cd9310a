// Ingest → subscriber latency: SeaTable webhooks posted open-loop at a fixed rate, half of them matching
// the subscribers' filter, received by N socket.io subscribers on a worker thread. Herald (HTTP → commit
// → log tail → fan-out) against a bare socket.io server that broadcasts each posted body, no database.
// Both run at once and are measured in interleaved rounds (median shown), each run after a warm-up at the
// same load, so a noisy neighbour or a cold start (JIT, the sender's first connections) hits both alike.
import { serverAndPostgresCpuSeconds } from '../support/cpu.mjs';
import { median, now, percentile, printFigure, printNote, sleep } from '../support/figures.mjs';
import { openLoop } from '../support/open-loop.mjs';
import { postJson } from '../support/http-load.mjs';
import { printStatements, resetStatements, statementsEnabled } from '../support/pg-statements.mjs';
import { withClient } from '../support/postgres.mjs';
import { startBaseline, startGateway } from '../support/processes.mjs';
import { seatableBody } from '../support/seatable.mjs';
import { startSubscribers } from '../support/subscribers.mjs';
import { createSeatableSource } from './ingest.mjs';

const TYPES = ['seatable.row.modified'];
// A second build of the gateway measured in the same interleaved rounds (target `compare`, its own
// database in the same cluster): the one A/B of a change that the machine's swings do not drown.
const COMPARE_MAIN = process.env.HERALD_BENCH_COMPARE_MAIN;
const WARMUP_SECONDS = 2;
const SERVER_WARMUP_SECONDS = 3;

/** The open-loop load of one round: SeaTable bodies, every other one matching the subscribers' filter. */
async function postRound({ url, rate, warmup, seconds, tag }) {
  const sent = new Map(); // row id of a matching, accepted, measured event → send time
  const acks = []; // POST sent → answered: for Herald, the commit path alone, before fan-out
  let errors = 0;
  const run = await openLoop({
    rate,
    warmup,
    seconds,
    send: (i, measured) => {
      const matching = i % 2 === 0;
      const rowId = `${tag}-${i}`;
      const at = now();
      return postJson(
        url,
        seatableBody(rowId, matching ? 'modify_row' : 'insert_row', Date.now() / 1000 + i / 1e6),
      )
        .then(({ status }) => {
          if (measured) acks.push(now() - at);
          if (status !== 202) errors++;
          else if (matching && measured) sent.set(rowId, at);
        })
        .catch(() => void errors++);
    },
  });
  return {
    sent,
    errors,
    achieved: run.achieved,
    lagP99: run.lagP99,
    ackP50: percentile(acks, 50),
    ackP99: percentile(acks, 99),
  };
}

/** One round against one target: fresh subscribers, warm-up, measured load, 2 s for the last receipts. */
async function measure({
  subscribers,
  rate,
  seconds,
  ingestUrl,
  socketUrl,
  token,
  tag,
  pid,
  cluster,
  databaseUrl,
}) {
  const subs = await startSubscribers({ url: socketUrl, token, count: subscribers, types: TYPES });
  const statements = statementsEnabled && databaseUrl;
  try {
    if (statements) await withClient(databaseUrl, resetStatements);
    const before = serverAndPostgresCpuSeconds(pid, cluster);
    const run = await postRound({ url: ingestUrl, rate, warmup: WARMUP_SECONDS, seconds, tag });
    const after = serverAndPostgresCpuSeconds(pid, cluster);
    const events = rate * (WARMUP_SECONDS + seconds);
    if (statements)
      await withClient(databaseUrl, (client) => printStatements(client, events, `event (${tag})`));
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
    return {
      achieved: run.achieved,
      lagP99: run.lagP99,
      ackP50: run.ackP50,
      ackP99: run.ackP99,
      errors: run.errors,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      lost: run.sent.size * subscribers - received,
      serverCpu: ((after.server - before.server) * 1e6) / events,
      postgresCpu: ((after.postgres - before.postgres) * 1e6) / events,
    };
  } finally {
    await subs.close();
  }
}

/** Medians over the rounds (errors and lost messages summed); prints them and returns them. */
function report(prefix, runs) {
  const of = (key) => median(runs.map((run) => run[key]));
  const sum = (key) => runs.reduce((total, run) => total + run[key], 0);
  const figures = { p50: of('p50'), p99: of('p99'), lost: sum('lost') };
  printFigure(`${prefix}_generator_achieved`, Math.round(of('achieved')), 'events/s');
  printFigure(`${prefix}_generator_lag_p99`, of('lagP99'), 'ms');
  if (sum('errors') > 0) printFigure(`${prefix}_ingest_errors`, sum('errors'), 'requests');
  printFigure(`${prefix}_ack_p50`, of('ackP50'), 'ms');
  printFigure(`${prefix}_ack_p99`, of('ackP99'), 'ms');
  printFigure(`${prefix}_p50`, figures.p50, 'ms');
  printFigure(`${prefix}_p99`, figures.p99, 'ms');
  printFigure(`${prefix}_lost`, figures.lost, 'messages');
  // Per posted event, fan-out to every matching subscriber included: which process a latency gap is in.
  printFigure(`${prefix}_cpu_per_event_server`, Math.round(of('serverCpu')), 'µs');
  printFigure(`${prefix}_cpu_per_event_postgres`, Math.round(of('postgresCpu')), 'µs');
  return figures;
}

export async function subscribersSection({ cluster, quick, liveUrl }) {
  // 8 s rather than 10 keeps a full run under 10 minutes on the slower VMs (606 s at 10 s, 2026-12-06).
  const seconds = quick ? 5 : 8;
  // A single round's p99 at 100 × 500 swung from 0.4 to 7 times the bare broadcast's for the same build
  // (2026-12-06, eighth session): one stall of either process on the shared cores sets it. So --quick
  // takes the median of three rounds there too; 1,000 × 20 has been steady within ~0.3 in single rounds.
  const loads = [
    { name: '100x500', subscribers: 100, rate: 500, rounds: 3 },
    { name: '1000x20', subscribers: 1000, rate: 20, rounds: quick ? 1 : 3 },
  ];
  printNote(
    `subscribers: ${loads.map((l) => `${l.rounds} (${l.name})`).join(', ')} interleaved round(s) of ${WARMUP_SECONDS} s warm-up + ${seconds} s measured per target, median shown`,
  );
  const results = [];
  const running = [];
  try {
    const bare = await startBaseline('broadcast-server.mjs');
    running.push(bare);
    const gateway = await startGateway({ DATABASE_URL: liveUrl });
    running.push(gateway);
    const heraldTarget = async (name, instance, databaseUrl) => ({
      name,
      pid: instance.pid,
      ingestUrl: await createSeatableSource(instance),
      databaseUrl,
      socketUrl: `${instance.baseUrl}/events`,
      token: instance.adminToken,
    });
    const targets = [
      {
        name: 'baseline',
        ingestUrl: `${bare.baseUrl}/ingest`,
        socketUrl: `${bare.baseUrl}/events`,
        pid: bare.pid,
      },
      await heraldTarget('herald', gateway, liveUrl),
    ];
    if (COMPARE_MAIN) {
      const compareUrl = await cluster.createDatabase('herald_compare');
      const compare = await startGateway({ DATABASE_URL: compareUrl }, COMPARE_MAIN);
      running.push(compare);
      targets.push(await heraldTarget('compare', compare, compareUrl));
      printNote(`subscribers: target compare runs ${COMPARE_MAIN}`);
    }
    // One unmeasured round per target first: the gateway's code is still being compiled (TurboFan) for
    // ~4 s into its first load, at nearly twice its steady CPU per event, which a round's warm-up did not cover.
    for (const target of targets) {
      await measure({
        ...loads[0],
        ...target,
        seconds: SERVER_WARMUP_SECONDS,
        tag: `${target.name}warm`,
        cluster,
        databaseUrl: undefined, // nothing of the warm-up is reported
      });
    }
    for (const load of loads) {
      const runs = new Map(targets.map((t) => [t.name, []]));
      for (let round = 0; round < load.rounds; round++) {
        // Each round starts with another target, so none is always measured first.
        const order = targets.map((_, i) => targets[(i + round) % targets.length]);
        for (const target of order) {
          const tag = `${target.name}${load.name}r${round}`;
          runs.get(target.name).push(await measure({ ...load, ...target, seconds, tag, cluster }));
        }
      }
      const result = { name: load.name };
      for (const target of targets)
        result[target.name] = report(`${target.name}_subscribers_${load.name}`, runs.get(target.name));
      results.push(result);
    }
  } finally {
    for (const server of running) await server.stop();
  }
  return results;
}
