import { startCluster } from '../support/postgres.mjs';
import { startGateway } from '../support/processes.mjs';
import { loadTest } from '../support/http-load.mjs';
import { seatableTemplate } from '../support/seatable.mjs';
import { createSeatableSource } from '../sections/ingest.mjs';
import { deliveriesSection } from '../sections/deliveries.mjs';
const n = Number(process.argv[2] ?? 0);
const mode = process.argv[3] ?? 'seatable';
const cluster = await startCluster();
try {
  const liveUrl = await cluster.createDatabase('herald_live');
  if (n > 0 || mode === 'source') {
    const gw = await startGateway({ DATABASE_URL: liveUrl });
    const url = await createSeatableSource(gw);
    if (n > 0) { const r = await loadTest({ url, body: seatableTemplate(), amount: n, connections: 16 }); console.log('seeded', r.ok); }
    await gw.stop();
  }
  const r = await deliveriesSection({ quick: false, liveUrl });
  console.log('ratio', r.herald / r.baseline);
} finally { await cluster.stop(); }
