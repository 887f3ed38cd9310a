// CPU time actually used by a process, from /proc (Linux). Throughput on a shared two-core machine
// moves with whatever else runs; the CPU a server spends per request moves much less, so it shows what
// a change costs or saves even when the ratios are noise. V8's profiler cannot stand in for it: its
// samples count wall time, including the time a process waits for a core after waking another one.
import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second, the unit of /proc/<pid>/stat's times (100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

/** The fields of /proc/<pid>/stat after the command name (which may itself hold spaces and parentheses). */
function statFields(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // exited meanwhile
  }
}

// Field numbers of proc(5), counted from the state field (field 3) on.
const field = (fields, number) => Number(fields[number - 3]);
const PPID = 4;
const UTIME = 14;
const STIME = 15;
const CUTIME = 16;
const CSTIME = 17;

/** User + system CPU seconds of one process, all of its threads. */
export function processCpuSeconds(pid) {
  const fields = statFields(pid);
  return fields ? (field(fields, UTIME) + field(fields, STIME)) / TICKS_PER_SECOND : 0;
}

/**
 * CPU seconds of a process and every child it has had: the children alive now, and those that exited
 * (which the kernel adds to the parent's cutime/cstime once reaped). For Postgres, the postmaster's pid
 * gives the whole cluster: backends, autovacuum, checkpointer, WAL writer.
 */
export function processTreeCpuSeconds(pid) {
  const own = statFields(pid);
  if (!own) return 0;
  let ticks = field(own, UTIME) + field(own, STIME) + field(own, CUTIME) + field(own, CSTIME);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields && field(fields, PPID) === pid) ticks += field(fields, UTIME) + field(fields, STIME);
  }
  return ticks / TICKS_PER_SECOND;
}

/** CPU seconds so far of a server process and of the whole Postgres cluster of the run. */
export function serverAndPostgresCpuSeconds(pid, cluster) {
  return { server: processCpuSeconds(pid), postgres: processTreeCpuSeconds(cluster.postmasterPid) };
}
