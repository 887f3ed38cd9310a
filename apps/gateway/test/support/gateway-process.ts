import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/database/embedded-postgres.js';
import { START_NODE_FLAGS } from '../../src/start-command.js';

export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface GatewayProcess {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts the built gateway as a real process (the README's start path) and returns at once. */
export function spawnGatewayProcess(
  env: Record<string, string>,
  port: number,
  /** Run as another user (the container's non-root user, say); needs root. */
  user?: { uid: number; gid: number },
  /** Lead a process group of its own, as a terminal's foreground job does (see `interruptGroup`). */
  ownGroup = false,
): Omit<GatewayProcess, 'baseUrl'> {
  let output = '';
  const child = spawn(process.execPath, [...START_NODE_FLAGS, MAIN], {
    ...user,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: ownGroup,
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Runs the built gateway as a real process (the README's start path), waiting until /readyz is 200. */
export async function startGatewayProcess(
  env: Record<string, string>,
  readyTimeoutMs = 60_000,
  /** Run as another user (the container's non-root user, say); needs root. */
  user?: { uid: number; gid: number },
  ownGroup = false,
): Promise<GatewayProcess> {
  const port = await workerPort();
  const gateway = spawnGatewayProcess(env, port, user, ownGroup);
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (gateway.child.exitCode !== null) throw new Error(`gateway exited early:\n${gateway.output()}`);
    const ready = await fetch(`${baseUrl}/readyz`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) return { ...gateway, baseUrl };
    if (Date.now() > deadline)
      throw new Error(`gateway not ready in ${readyTimeoutMs} ms:\n${gateway.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let portsTaken = 0;

/**
 * A free port from a range of this Jest worker's own, below the ephemeral ports the OS hands out: a
 * port merely free when picked could be bound by another worker's gateway before this one binds it,
 * and that gateway would then answer for this one (its keys, its data).
 */
async function workerPort(): Promise<number> {
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  for (;;) {
    const port = await freePort(20_000 + worker * 500 + (portsTaken++ % 500)).catch(() => undefined);
    if (port !== undefined) return port;
  }
}

/** A terminal's Ctrl-C: SIGINT to every process of the foreground job (started with `ownGroup`). */
export function interruptGroup(gateway: Pick<GatewayProcess, 'child'>): void {
  process.kill(-gateway.child.pid!, 'SIGINT');
}
