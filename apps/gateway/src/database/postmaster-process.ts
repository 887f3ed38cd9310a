import { type ChildProcess, spawn } from 'node:child_process';
import { postgresBinaries, postgresUser } from './postgres-user-access.js';

const READY = 'database system is ready to accept connections';

/**
 * Starts a postmaster on an initialised cluster, as the leader of a process group of its own, and
 * resolves once it accepts connections. The package's start() kept it in Herald's group, where a
 * terminal's Ctrl-C (SIGINT to the whole foreground job) began its fast shutdown at once: it took the
 * database from under Herald's own graceful shutdown, so the webhook attempt in flight went unrecorded
 * and was sent again after the next start. Herald stops it itself. Rejects if it exits first; the
 * reason is in what it logged (`log`).
 */
export async function spawnPostmaster(args: string[], log: (text: string) => void): Promise<ChildProcess> {
  const { postgres } = await postgresBinaries();
  // Postgres refuses to run as root; as root it runs as the `postgres` user, which `initialise()` creates.
  const user = process.getuid?.() === 0 ? postgresUser() : undefined;
  const child = spawn(postgres, args, {
    ...(user && { uid: user.uid, gid: user.gids[0] }),
    // Its messages in English, which the readiness check reads.
    env: { ...process.env, LC_MESSAGES: 'C' },
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let tail = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      log(chunk);
      // The message may be split between two chunks.
      const seen = tail + chunk;
      if (seen.includes(READY)) resolve(child);
      tail = seen.slice(-READY.length);
    });
    child.once('error', reject);
    child.once('close', (code, signal) =>
      reject(new Error(`postgres exited before accepting connections (code ${code}, signal ${signal})`)),
    );
  });
}
