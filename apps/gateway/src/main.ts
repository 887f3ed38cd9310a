import 'reflect-metadata';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseConnectionString } from 'pg-connection-string';
import { v7 as uuidv7 } from 'uuid';
import { ApiKeyService } from './api-keys/api-key.service.js';
import { createHeraldLogger } from './common/herald-logger.js';
import { ConfigurationError } from './config/environment.js';
import { type HeraldConfig, loadConfig } from './config/herald-config.js';
import { createApp } from './create-app.js';
import {
  type EmbeddedPostgresKeeper,
  startKeptEmbeddedPostgres,
} from './database/embedded-postgres-keeper.js';
import { EmbeddedPostgresError } from './database/embedded-postgres-error.js';
import { DrainState } from './health/drain-state.js';
import { SHUTDOWN_DEADLINE_MS } from './shutdown-deadline.js';

let config: HeraldConfig;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigurationError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

// Every line says which process and which instance wrote it: operators stop Herald by its pid, and
// match a stream source's `heldBy` (an instance id) to a replica's logs.
const instanceId = uuidv7();
const logger = createHeraldLogger({
  level: config.logLevel,
  base: { service: 'herald', pid: process.pid, hostname: hostname(), instance: instanceId },
});
let embedded: EmbeddedPostgresKeeper | undefined;
let app: Awaited<ReturnType<typeof createApp>> | undefined;
let stopping = false;

async function start(): Promise<void> {
  if (!config.databaseUrl) {
    try {
      embedded = await startKeptEmbeddedPostgres({
        dataDir: join(config.dataDir, 'pgdata'),
        persistent: true,
        logger,
        shuttingDown: () => stopping,
        // Left to the process supervisor, which restarts Herald (and with it its Postgres) or alerts.
        onGiveUp: (error) => {
          // The error's own `code` (EmbeddedPostgresError) comes with it.
          logger.fatal({ err: error }, 'embedded Postgres could not be restarted; exiting');
          process.exit(1);
        },
      });
    } catch (error) {
      if (!(error instanceof EmbeddedPostgresError)) throw error;
      logger.fatal({ code: error.code }, error.message);
      process.exit(1);
    }
    config = { ...config, databaseUrl: embedded.url };
  }
  // Asked to stop while the database started: nothing more to start.
  if (stopping) return;
  try {
    app = await createApp(config, logger, { instanceId });
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    logger.fatal({ err: error, database: databaseTarget(config.databaseUrl) }, 'Herald could not start');
    await app?.get(ApiKeyService).withdrawGeneratedKey();
    await embedded?.stop().catch(() => undefined);
    process.exit(1);
  }
  logger.info(
    { port: config.port, host: config.host, embeddedPostgres: Boolean(embedded) },
    'Herald is listening',
  );
  app.get(ApiKeyService).announceGeneratedKey();
}

/** Where the database is (host, port and name), for a start that failed on it; never its credentials. */
function databaseTarget(url: string | undefined): string | undefined {
  if (!url) return undefined;
  // Validated at start (environment.ts): it parses.
  const { host, port, database } = parseConnectionString(url);
  return `${host ?? 'localhost'}:${port ?? '5432'}/${database ?? ''}`;
}

/**
 * Ends the process without the rest of its graceful stop. The embedded Postgres is told to stop, not
 * waited for: left running without Herald, it held the data directory against the next start.
 */
function forceExit(reason: string): void {
  logger.error(reason);
  embedded?.abandon();
  process.exit(1);
}

async function shutdown(signal: string): Promise<void> {
  // A second signal (a second Ctrl-C) is an operator who will not wait.
  if (stopping) return forceExit(`${signal} during the shutdown; exiting without waiting for it`);
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const deadlineMs = config.shutdownDelayMs + SHUTDOWN_DEADLINE_MS;
  const deadline = setTimeout(
    () => forceExit(`graceful shutdown took longer than ${deadlineMs / 1000} s; exiting`),
    deadlineMs,
  );
  deadline.unref();
  try {
    // A signal during start-up waits for it, so what it started (an embedded Postgres above all) is
    // stopped rather than left running without its parent.
    await starting.catch(() => undefined);
    app?.get(DrainState).begin();
    if (app && config.shutdownDelayMs > 0) {
      logger.info(
        { delaySeconds: config.shutdownDelayMs / 1000 },
        'out of rotation (readiness 503); serving on until balancers have stopped routing here',
      );
      await sleep(config.shutdownDelayMs);
    }
    await app?.close();
    await embedded?.stop();
  } catch (error) {
    logger.error({ err: error }, 'error during shutdown');
  }
  // A database that went away before the signal (the OOM killer chose the embedded Postgres) still
  // makes a clean stop: exit 0, as for any completed shutdown.
  logger.info('Herald stopped');
  process.exit(0);
}
const starting = start();
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
await starting;
