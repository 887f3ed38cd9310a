import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseSize, validateEnvironment } from './environment.js';

/** Herald's typed configuration; services read it through the `HeraldConfig` provider. */
export interface HeraldConfig {
  version: string;
  databaseUrl?: string;
  dataDir: string;
  port: number;
  host: string;
  /** Base of the ingest URLs handed to providers; defaults to the origin each request came in on. */
  publicUrl?: string;
  logLevel: string;
  adminToken?: string;
  retentionDays: number;
  allowPrivateTargets: boolean;
  retrySchedule: number[];
  maxBodyBytes: number;
  /** Messages a subscriber socket may have waiting before it is disconnected as too slow. */
  socketMaxBuffer: number;
  /** How long a client may take to send a whole request, headers and body (408 after it). */
  requestTimeoutMs: number;
  /**
   * How long after SIGTERM the instance keeps serving, out of rotation, before it begins to close:
   * balancers (Kubernetes endpoints above all) learn of a stopping instance only after it got the signal.
   */
  shutdownDelayMs: number;
  /** First wait before a stream source whose credentials the provider refused is started again. */
  streamAuthRetryMs: number;
  /**
   * Whether X-Forwarded-For/-Host/-Proto are taken from the client: only behind a proxy that sets them
   * (otherwise any client picks the host of the ingest URLs it is shown).
   */
  trustProxy: boolean;
  /** Origins whose browser pages may call the REST API (`*`: any); empty: no CORS answers. */
  corsOrigins: string[];
  /** Set: instances signal each other through Redis (socket.io Redis Streams adapter) instead of NOTIFY. */
  redisUrl?: string;
}

/** Injection token for the configuration object. */
export const HERALD_CONFIG = Symbol('HERALD_CONFIG');

/** Injection token for this process's instance id (a UUIDv7), shown by /healthz and stream-source status. */
export const INSTANCE_ID = Symbol('INSTANCE_ID');

export const DEFAULT_RETRY_SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];
/** Root runs Postgres as another user that cannot enter a 0700 home (contract §2). */
function defaultDataDir(): string {
  if (process.getuid?.() === 0) return '/var/lib/herald';
  return join(homedir(), '.local', 'share', 'herald');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, version = '0.1.0'): HeraldConfig {
  const e = validateEnvironment(env);
  const config: HeraldConfig = {
    version,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.HERALD_DATA_DIR ?? defaultDataDir(),
    port: e.PORT ?? 8080,
    host: e.HOST ?? '0.0.0.0',
    publicUrl: e.HERALD_PUBLIC_URL?.replace(/\/+$/, ''),
    logLevel: e.LOG_LEVEL ?? 'info',
    adminToken: e.HERALD_ADMIN_TOKEN,
    retentionDays: e.HERALD_RETENTION_DAYS ?? 30,
    allowPrivateTargets: e.HERALD_ALLOW_PRIVATE_TARGETS ?? false,
    retrySchedule: e.HERALD_RETRY_SCHEDULE
      ? e.HERALD_RETRY_SCHEDULE.split(',').map((s) => Number(s.trim()))
      : DEFAULT_RETRY_SCHEDULE,
    maxBodyBytes: e.HERALD_MAX_BODY ? parseSize(e.HERALD_MAX_BODY) : 1024 * 1024,
    socketMaxBuffer: e.HERALD_SOCKET_MAX_BUFFER ?? 1_000,
    requestTimeoutMs: (e.HERALD_REQUEST_TIMEOUT ?? 30) * 1000,
    shutdownDelayMs: (e.HERALD_SHUTDOWN_DELAY ?? 0) * 1000,
    streamAuthRetryMs: (e.HERALD_STREAM_AUTH_RETRY ?? 300) * 1000,
    trustProxy: e.HERALD_TRUST_PROXY ?? false,
    redisUrl: e.REDIS_URL,
    corsOrigins: e.HERALD_CORS_ORIGINS ? e.HERALD_CORS_ORIGINS.split(',').map((origin) => origin.trim()) : [],
  };
  return config;
}
