import { startCluster } from '../support/postgres.mjs';
import { deliveriesSection } from '../sections/deliveries.mjs';
const every = Number(process.argv[2] ?? 0);
const cluster = await startCluster();
try {
  const liveUrl = await cluster.createDatabase('herald_live');
  let timer;
  if (every > 0) timer = setInterval(() => { const t = performance.now(); cluster.checkpoint().then(() => console.log('ckpt', Math.round(performance.now() - t), 'ms')); }, every);
  const r = await deliveriesSection({ quick: false, liveUrl });
  clearInterval(timer);
  console.log('ratio', r.herald / r.baseline);
} finally { await cluster.stop(); }
