import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '@herald/gateway/dist/database/embedded-postgres.js';
import { deliveriesSection } from '../sections/deliveries.mjs';
import pg from 'pg';
const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-pg-'));
const embedded = await startEmbeddedPostgres({ dataDir, persistent: false, database: 'postgres', postgresFlags: [
 '-c','shared_preload_libraries=pg_stat_statements','-c','pg_stat_statements.track_planning=on'] });
const admin = new pg.Client({ connectionString: embedded.url }); await admin.connect();
await admin.query('CREATE DATABASE herald_live');
const liveUrl = embedded.url.replace(/\/[^/]*$/, '/herald_live');
const live = new pg.Client({ connectionString: liveUrl }); await live.connect();
await live.query('CREATE EXTENSION pg_stat_statements');
// reset when the backlog endpoint appears (second endpoint)
let reset = false;
const timer = setInterval(async () => { if (reset) return; try { const r = await live.query('SELECT count(*)::int n FROM endpoints'); if (r.rows[0].n >= 2) { reset = true; await live.query('SELECT pg_stat_statements_reset()'); console.log('reset'); } } catch {} }, 20);
try {
  const r = await deliveriesSection({ quick: false, liveUrl });
  clearInterval(timer);
  console.log('ratio', r.herald / r.baseline);
  const s = await live.query(`SELECT calls, rows, round(total_exec_time)::int exec_ms, round(total_plan_time)::int plan_ms, round((total_exec_time+total_plan_time)*1000/greatest(rows,1))::int us_per_row, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) q FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 12`);
  console.table(s.rows);
} finally { await live.end(); await admin.end(); await embedded.stop(); rmSync(dataDir, { recursive: true, force: true }); }
