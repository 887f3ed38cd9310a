import { EventEmitter } from 'node:events';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Backoff } from '@herald/events';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import pg from 'pg';
import { HERALD_CONFIG, type HeraldConfig } from '../config/herald-config.js';

/** NOTIFY channels Herald uses across instances. */
export const Channel = {
  /** An event batch committed (payload empty): subscribers' log tailers read on. */
  events: 'herald_events',
  /** An API key was deleted (payload: key id): sockets using it are cut off. */
  apiKeyRevoked: 'herald_api_key_revoked',
  /** Deliveries became due (new, retried, replayed, reaped): delivery workers claim. */
  deliveries: 'herald_deliveries',
} as const;

type ChannelName = (typeof Channel)[keyof typeof Channel];

/**
 * One dedicated connection per instance that LISTENs on Herald's channels and relays notifications
 * as local events; it reconnects with backoff and emits `reconnected`, after which listeners must assume
 * they missed notifications and catch up from the database.
 */
@Injectable()
export class PgListener implements OnModuleInit, OnApplicationShutdown {
  private readonly emitter = new EventEmitter();
  private client: pg.Client | undefined;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 5_000 });
  private retryTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private everConnected = false;

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

  on(channel: ChannelName | 'reconnected', listener: (payload: string) => void): void {
    this.emitter.on(channel, listener);
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closing) return;
    const client = new pg.Client({
      connectionString: this.config.databaseUrl,
      application_name: 'herald-listener',
    });
    const lost = (error: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      if (this.closing) return;
      this.logger.warn({ err: error }, 'notification listener lost its connection; reconnecting');
      this.retryTimer = setTimeout(() => void this.connect(), this.backoff.next());
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('connection ended')));
    client.on('notification', (message) => this.emitter.emit(message.channel, message.payload ?? ''));
    try {
      await client.connect();
      for (const channel of Object.values(Channel)) await client.query(`LISTEN ${channel}`);
      this.client = client;
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
}
