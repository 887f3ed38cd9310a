import { existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { EmbeddedPostgresError, EmbeddedPostgresErrorCode } from './embedded-postgres-error.js';

function readProc(pid: number, entry: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${entry}`, 'utf8');
  } catch {
    return undefined;
  }
}

function isPostgresProcess(pid: number): boolean {
  return readProc(pid, 'cmdline')?.includes('postgres') ?? false;
}

/** The pid lock file may name a pid that a later process reuses; the postmaster runs in its data directory. */
export function isPostmasterOf(pid: number, dataDir: string): boolean {
  if (!isPostgresProcess(pid)) return false;
  try {
    return realpathSync(`/proc/${pid}/cwd`) === realpathSync(dataDir);
  } catch {
    return false;
  }
}

function parentPid(pid: number): number | undefined {
  const stat = readProc(pid, 'stat');
  // `pid (comm) state ppid …`, where comm may itself hold spaces and parentheses.
  const ppid = Number(stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/**
 * Herald spawns its postmaster itself, so while it lives it is the postmaster's parent. Once it is gone
 * the postmaster is re-parented to pid 1 or to a subreaper (tini, systemd --user), which is no Node
 * process, except in a container whose pid 1 is a Herald: that one still owns it. This process clears
 * only while no postmaster it started runs (at start-up, or restarting one that exited), so one
 * re-parented to it was left by an earlier Herald.
 */
function isHerald(pid: number): boolean {
  return pid !== process.pid && readProc(pid, 'comm')?.trim() === 'node';
}

/** The postmaster's pid from the cluster's lock file, if there is one. */
export function postmasterPid(dataDir: string): number | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Resolves true once `pid` is no postgres process any more, false if it still is after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isPostgresProcess(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * Makes the cluster's `postmaster.pid` free for a new postmaster. A `kill -9` of Herald leaves its postgres
 * running as an orphan that still holds the file, and the next start would fail with an unexplained
 * rejection: that orphan is stopped (fast shutdown). A lock file whose pid now belongs to another program
 * is dropped. A postmaster whose Herald still runs is left alone and the start refused: stopping it would
 * pull the database from under that Herald.
 */
export async function clearStaleServer(dataDir: string, logger?: Pick<Logger, 'warn'>): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid !== undefined && isPostmasterOf(pid, dataDir)) {
    const owner = parentPid(pid);
    if (owner !== undefined && isHerald(owner)) {
      throw new EmbeddedPostgresError(
        EmbeddedPostgresErrorCode.DataDirInUse,
        `the data directory ${dataDir} is in use by Herald pid ${owner}: stop that Herald first, or give this ` +
          'one its own HERALD_DATA_DIR',
      );
    }
    logger?.warn(
      { postmasterPid: pid, parentPid: owner, dataDir },
      'stopping a postgres left running by an earlier Herald process',
    );
    await stopPostmaster(pid, () => process.kill(pid, 'SIGINT'), 15_000);
  }
  rmSync(join(dataDir, 'postmaster.pid'), { force: true });
}

/** How long a killed postmaster is waited for. */
export const KILL_WAIT_MS = 5_000;

/**
 * Begins a fast shutdown with `beginStop` and waits up to `timeoutMs` for the postmaster to exit, then
 * kills it (waiting up to KILL_WAIT_MS more); resolves false when it had to be killed. The process is
 * watched rather than an `exit` event, which only its parent gets (an orphan left by an earlier Herald
 * has another).
 */
export async function stopPostmaster(
  pid: number,
  beginStop: () => unknown,
  timeoutMs: number,
): Promise<boolean> {
  Promise.resolve(beginStop()).catch(() => undefined);
  if (await waitForExit(pid, timeoutMs)) return true;
  process.kill(pid, 'SIGKILL');
  await waitForExit(pid, KILL_WAIT_MS);
  return false;
}
