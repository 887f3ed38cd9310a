// Postgres time per statement, for finding which statement a section's Postgres CPU goes to. Opt-in
// (HERALD_BENCH_PG_STATEMENTS=1): `pg_stat_statements` is loaded into the whole cluster, so the bare
// baselines pay its small bookkeeping too, and runs with it are not comparable with runs without.
import { printNote } from './figures.mjs';

export const statementsEnabled = Boolean(process.env.HERALD_BENCH_PG_STATEMENTS);

/** Server flags for the cluster when enabled. */
export const statementsFlags = statementsEnabled
  ? [
      '-c',
      'shared_preload_libraries=pg_stat_statements',
      '-c',
      'pg_stat_statements.track=all',
      '-c',
      'pg_stat_statements.track_planning=on',
    ]
  : [];

/** Starts counting afresh for `client`'s database; a no-op unless enabled. */
export async function resetStatements(client) {
  if (!statementsEnabled) return;
  await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await client.query('SELECT pg_stat_statements_reset()');
}

/**
 * Prints the statements of `client`'s database that took the most time since the reset, as µs of
 * execution (planning included) per `per` unit of work, e.g. per delivery; a no-op unless enabled.
 */
export async function printStatements(client, per, unit, top = 6) {
  if (!statementsEnabled) return;
  const { rows } = await client.query(
    `SELECT calls, plans, rows, total_exec_time + total_plan_time AS ms, total_plan_time AS plan_ms, shared_blks_hit + shared_blks_read AS blocks,
            wal_records, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query
     FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND query NOT LIKE '%pg_stat_statements%'
     ORDER BY ms DESC LIMIT $1`,
    [top],
  );
  printNote(`postgres statements since the reset, per ${unit} (µs, blocks, WAL records), calls/rows:`);
  for (const row of rows) {
    const micros = Math.round((row.ms * 1000) / per);
    const blocks = (Number(row.blocks) / per).toFixed(1);
    const wal = (Number(row.wal_records) / per).toFixed(1);
    const planning = Math.round((row.plan_ms * 1000) / per);
    printNote(
      `  ${micros} µs (planning ${planning} µs, ${row.plans} plans) ${blocks} ${wal}  ${row.calls}/${row.rows}  ${row.query}`,
    );
  }
}
