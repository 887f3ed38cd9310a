import { EventEmitter } from 'node:events';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Backoff } from '@herald/events';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import pg from 'pg';
import { HERALD_CONFIG, type HeraldConfig } from '../config/herald-config.js';
import { askServerKeepalives, pgConnectionConfig } from './pg-connection.js';

/** NOTIFY channels Herald uses across instances. */
export const Channel = {
  /** An event batch committed (payload empty): subscribers' log tailers read on. */
  events: 'herald_events',
  /** An API key was deleted (payload: key id): sockets using it are cut off. */
  apiKeyRevoked: 'herald_api_key_revoked',
  /** Deliveries became due (new, retried, replayed, reaped): delivery workers claim. */
  deliveries: 'herald_deliveries',
  /** A listener (re)connected (payload empty): the instances already listening learn they have company. */
  listenerJoined: 'herald_listener_joined',
} as const;

/** How a listener's connection names itself, so instances can find each other in `pg_stat_activity`. */
export const LISTENER_APPLICATION_NAME = 'herald-listener';

/** How soon an instance notices that the last other listener has left (joining is announced at once). */
const PEER_CHECK_INTERVAL_MS = 1_000;

type ChannelName = (typeof Channel)[keyof typeof Channel];

/**
 * One dedicated connection per instance that LISTENs on Herald's channels and relays notifications
 * as local events; it reconnects with backoff and emits `reconnected`, after which listeners must assume
 * they missed notifications and catch up from the database.
 * It also tells whether any other instance's listener is on the same database (`othersListening`), so
 * a lone instance can skip notifications only others would read. A listener announces itself on
 * `listenerJoined` once it LISTENs, which the others take at once; a departure is seen by a check of
 * `pg_stat_activity` every second.
 */
@Injectable()
export class PgListener implements OnModuleInit, OnApplicationShutdown {
  private readonly emitter = new EventEmitter();
  private client: pg.Client | undefined;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 5_000 });
  private retryTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private everConnected = false;
  private othersPresent = true;
  private peerCheckTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
    @InjectPinoLogger(PgListener.name) private readonly logger: PinoLogger,
  ) {
    this.emitter.setMaxListeners(0);
  }

  /** Whether notifications can arrive right now. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /**
   * Whether another instance may be listening: true unless this listener is connected and knows that no
   * other is. A joining listener's announcement can cross a write that already decided not to notify;
   * the joiner's 1 s log poll covers that one write.
   */
  get othersListening(): boolean {
    return this.client === undefined || this.othersPresent;
  }

  on(channel: ChannelName | 'reconnected', listener: (payload: string) => void): void {
    this.emitter.on(channel, listener);
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.peerCheckTimer);
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closing) return;
    const client = new pg.Client(pgConnectionConfig(this.config.databaseUrl!, LISTENER_APPLICATION_NAME));
    const lost = (error: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      clearInterval(this.peerCheckTimer);
      if (this.closing) return;
      this.logger.warn({ err: error }, 'notification listener lost its connection; reconnecting');
      this.retryTimer = setTimeout(() => void this.connect(), this.backoff.next());
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('connection ended')));
    let ownPid: number | undefined;
    client.on('notification', (message) => {
      if (message.channel === Channel.listenerJoined && message.processId !== ownPid) {
        this.othersPresent = true;
      }
      this.emitter.emit(message.channel, message.payload ?? '');
    });
    try {
      await client.connect();
      await askServerKeepalives(client);
      for (const channel of Object.values(Channel)) await client.query(`LISTEN ${channel}`);
      // Its own announcement comes back to it after this answer (notifications wait for the query's end).
      const { rows } = await client.query<{ pid: number }>(
        'SELECT pg_backend_pid() AS pid, pg_notify($1, $2)',
        [Channel.listenerJoined, ''],
      );
      ownPid = rows[0]!.pid;
      await this.checkPeers(client);
      // Shutdown came while this connection was being set up: it would otherwise stay open.
      if (this.closing) throw new Error('shutting down');
      this.client = client;
      this.peerCheckTimer = setInterval(() => void this.checkPeers(client), PEER_CHECK_INTERVAL_MS);
      this.peerCheckTimer.unref();
      this.backoff.reset();
      if (this.everConnected) this.emitter.emit('reconnected', '');
      this.everConnected = true;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (this.closing) return;
      this.logger.warn({ err: error }, 'notification listener cannot connect; retrying');
      this.retryTimer = setTimeout(() => void this.connect(), this.backoff.next());
    }
  }

  /**
   * Runs on the listener's own connection, which Postgres sends notifications to only between queries:
   * an announcement from a listener this check did not see arrives after its answer, never before it.
   */
  private async checkPeers(client: pg.Client): Promise<void> {
    try {
      const { rows } = await client.query<{ present: boolean }>(
        `SELECT EXISTS (SELECT FROM pg_stat_activity
                        WHERE datname = current_database() AND application_name = $1
                          AND pid <> pg_backend_pid()) AS present`,
        [LISTENER_APPLICATION_NAME],
      );
      this.othersPresent = rows[0]?.present ?? true;
    } catch {
      // Not known, so assumed; the connection's own error handler reconnects if it is gone.
      this.othersPresent = true;
    }
  }
}
