import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { createClient, ErrorReply } from 'redis';

export type RedisClient = ReturnType<typeof createClient>;

/** A wrong REDIS_URL must stop the start-up with a clear message, not hang it. */
const STARTUP_DEADLINE_MS = 10_000;
const MAX_RECONNECT_DELAY_MS = 5_000;

/** Redis could not be reached at start-up. */
export class RedisUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

const AUTH_REFUSAL = /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password/i;

const isAuthRefusal = (error: unknown): boolean =>
  error instanceof ErrorReply && AUTH_REFUSAL.test(error.message);

/** The URL without its password, for logs and errors. */
export function redactRedisUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/**
 * The one Redis client of an instance (the socket.io adapter duplicates it for its stream reader and
 * its subscriber, with the same options). Once connected it reconnects forever with backoff, logging
 * the loss once and the return once; `close()` makes it and its duplicates give up, so a shutdown
 * while Redis is down does not hang.
 */
export class RedisConnection {
  readonly client: RedisClient;
  private readonly emitter = new EventEmitter<{ reconnected: [] }>();
  private readonly redacted: string;
  private closing = false;
  private state: 'starting' | 'up' | 'down' = 'starting';
  private lastError: unknown;

  private constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    this.redacted = redactRedisUrl(url);
    this.client = createClient({
      url,
      socket: {
        connectTimeout: 5_000,
        reconnectStrategy: (retries) =>
          this.closing ? false : Math.min(100 * 2 ** Math.min(retries, 6), MAX_RECONNECT_DELAY_MS),
      },
    });
    // Without an 'error' listener every failed attempt would be thrown as an uncaught exception.
    this.client.on('error', (error) => this.failed(error));
    this.client.on('ready', () => this.becameReady());
  }

  /** Connects, or throws `RedisUnavailableError` once the start-up deadline has passed. */
  static async open(url: string, logger: Logger): Promise<RedisConnection> {
    const connection = new RedisConnection(url, logger);
    const deadline = setTimeout(() => connection.close(), STARTUP_DEADLINE_MS);
    try {
      await connection.client.connect();
    } catch (error) {
      const cause = connection.lastError ?? error;
      const why = isAuthRefusal(cause)
        ? 'refused the credentials'
        : `did not answer within ${STARTUP_DEADLINE_MS / 1000} s`;
      throw new RedisUnavailableError(
        `REDIS_URL is set but Redis at ${connection.redacted} ${why}: ${String((cause as Error)?.message ?? cause)}`,
        { cause },
      );
    } finally {
      clearTimeout(deadline);
    }
    logger.info({ redis: connection.redacted }, 'connected to Redis');
    return connection;
  }

  get ready(): boolean {
    return this.client.isReady;
  }

  /** After an outage: anything sent through Redis meanwhile may be lost. */
  onReconnected(listener: () => void): void {
    this.emitter.on('reconnected', listener);
  }

  close(): void {
    this.closing = true;
    this.client.destroy();
  }

  private failed(error: unknown): void {
    this.lastError = error;
    // Redis refused the credentials: every retry would get the same answer. Other refusals (too many
    // clients, busy) may pass, and are retried until the start-up deadline.
    if (this.state === 'starting' && isAuthRefusal(error)) this.close();
    // Every retry of an outage fails the same way: report the loss once.
    if (this.state !== 'up' || this.closing) return;
    this.state = 'down';
    this.logger.warn(
      { err: error, redis: this.redacted },
      'lost Redis; subscribers are still served through the Postgres poll; reconnecting',
    );
  }

  private becameReady(): void {
    const wasDown = this.state === 'down';
    this.state = 'up';
    if (!wasDown) return;
    this.logger.info({ redis: this.redacted }, 'reconnected to Redis');
    this.emitter.emit('reconnected');
  }
}
