import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '@herald/gateway/dist/database/embedded-postgres.js';
import { subscribersSection } from '../sections/subscribers.mjs';
import { deliveriesSection } from '../sections/deliveries.mjs';
import pg from 'pg';
const quick = process.argv[2] === 'quick';
const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-pg-'));
const embedded = await startEmbeddedPostgres({ dataDir, persistent: false, database: 'postgres', postgresFlags: [
 '-c','shared_preload_libraries=auto_explain','-c','auto_explain.log_min_duration=8','-c','auto_explain.log_analyze=on',
 '-c','log_min_duration_statement=-1', '-c', 'log_autovacuum_min_duration=0'] });
const admin = new pg.Client({ connectionString: embedded.url }); await admin.connect();
await admin.query('CREATE DATABASE herald_live');
const liveUrl = embedded.url.replace(/\/[^/]*$/, '/herald_live');
try {
  if (process.argv[3] !== 'nosubs') await subscribersSection({ quick, liveUrl });
  console.log('deliveries start', new Date().toISOString());
  const r = await deliveriesSection({ quick, liveUrl });
  console.log('ratio', r.herald / r.baseline);
} finally { await admin.end(); await embedded.stop(); rmSync(dataDir, { recursive: true, force: true }); }
