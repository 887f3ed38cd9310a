import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, it } from '@jest/globals';
import { freePort } from '../../src/database/embedded-postgres.js';

/** Debian's `redis-server` package (`.ci/run` installs it): on PATH, or where Debian puts it. */
function findRedisServer(): string | undefined {
  const candidates = [
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'redis-server')),
    '/usr/bin/redis-server',
  ];
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const REDIS_SERVER = findRedisServer();

/**
 * `describe` for suites that need a real redis-server. Without one they fail in CI (a silent skip would
 * hide that Redis mode went untested) and are skipped with a message elsewhere.
 */
export function describeWithRedis(name: string, suite: () => void): void {
  if (REDIS_SERVER) return describe(name, suite);
  const install = 'apt-get install -y --no-install-recommends redis-server';
  if (process.env.CI === 'true') {
    return describe(name, () => {
      it('finds redis-server', () => {
        throw new Error(`redis-server is not installed (${install}); .ci/run installs it`);
      });
    });
  }
  process.stderr.write(`skipping "${name}": redis-server is not installed (${install})\n`);
  describe.skip(name, suite);
}

export interface RedisServer {
  url: string;
  /** SIGKILL, like a crash: nothing is saved and clients see the connection drop. */
  kill(): Promise<void>;
  /** A fresh, empty server on the same port (as after a restart without persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const READY = /Ready to accept connections/;

function launch(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    REDIS_SERVER!,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start within 10 s:\n${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (!READY.test(output)) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      // Keep draining, or a full pipe would block the server.
      child.stdout!.resume();
      resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    });
  });
}

function exited(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  return done;
}

/** A throwaway redis-server on a free port of 127.0.0.1, without persistence, in its own temp dir. */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  let child = await launch(port, dir);
  return {
    url: `redis://127.0.0.1:${port}`,
    kill: () => exited(child, 'SIGKILL'),
    restart: async () => {
      await exited(child, 'SIGKILL');
      child = await launch(port, dir);
    },
    stop: async () => {
      await exited(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
