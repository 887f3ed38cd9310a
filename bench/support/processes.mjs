import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '@herald/gateway/dist/database/embedded-postgres.js';
import { START_NODE_FLAGS } from '@herald/gateway/dist/start-command.js';

const require = createRequire(import.meta.url);
const gatewayPackage = require.resolve('@herald/gateway/package.json');
// HERALD_BENCH_GATEWAY_MAIN runs another build of the gateway (A/B comparisons of a change).
const GATEWAY_MAIN = process.env.HERALD_BENCH_GATEWAY_MAIN ?? join(dirname(gatewayPackage), 'dist/main.js');

/** Resident set size of a process, in MiB. */
export function rssMiB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]) / 1024;
}

function track(child) {
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The built gateway as its own process (the load generator does not share its event loop), on the
 * bench's Postgres (`DATABASE_URL`), with `pnpm start`'s node flags. HERALD_BENCH_NODE_FLAGS adds more:
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` profiles the gateway itself.
 */
// One admin token per bench run: it becomes the admin key on a database's first start and stays valid after.
const adminToken = `hrld_bench_${randomBytes(16).toString('hex')}`;

export async function startGateway(env, main = GATEWAY_MAIN) {
  const port = await freePort();
  const flags = process.env.HERALD_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...START_NODE_FLAGS, ...flags, main], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      HERALD_ADMIN_TOKEN: adminToken,
      HERALD_ALLOW_PRIVATE_TARGETS: 'true',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const handle = track(child);
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('the gateway exited during start');
    const ready = await fetch(`${baseUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error('the gateway did not become ready in 60 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { ...handle, baseUrl, adminToken };
}

/** A baseline server script of this package in its own process; it prints `listening <port>` when ready. */
export async function startBaseline(script, args = []) {
  const path = fileURLToPath(new URL(`../baselines/${script}`, import.meta.url));
  const child = spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const handle = track(child);
  const port = await new Promise((resolve, reject) => {
    child.once('exit', () => reject(new Error(`${script} exited during start`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^listening (\d+)$/.exec(line);
      if (match) resolve(Number(match[1]));
    });
  });
  return { ...handle, baseUrl: `http://127.0.0.1:${port}` };
}
