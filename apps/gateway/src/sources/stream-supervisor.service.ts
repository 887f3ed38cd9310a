import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  Backoff,
  type NormalizedEvent,
  type StreamSource,
  type StreamState,
  type StreamStateChange,
  stampArrival,
  systemClock,
} from '@herald/events';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import pg from 'pg';
import { AdapterRegistry } from '../adapters/adapter-registry.js';
import { isDatabaseUnavailable } from '../common/errors/problem.js';
import { HERALD_CONFIG, type HeraldConfig, INSTANCE_ID } from '../config/herald-config.js';
import { askServerKeepalives, pgConnectionConfig } from '../database/pg-connection.js';
import { EventRepository } from '../events/event.repository.js';
import { EventWriter } from '../events/event-writer.js';
import { fromNormalized } from '../events/new-event.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { SourceCatalog } from './source-catalog.js';
import type { SourceEntity } from './source.entity.js';
import { SOURCE_CHANGES_CHANNEL, SourceRepository } from './source.repository.js';
import { sourceStateEvent, type StreamRun } from './source-state-events.js';

/** Advisory-lock namespace (first key of the two-key form) for stream-source leadership. */
const STREAM_LOCK_NAMESPACE = 0x4852;
const RECONCILE_INTERVAL_MS = 3_000;
/** How long a stream source may take to stop (its last events and state stored) before it is left. */
export const STREAM_STOP_TIMEOUT_MS = 10_000;

/**
 * The waits before an auth-failed stream is started again double up to this (or to the configured
 * first wait, when that is longer).
 */
const AUTH_RETRY_MAX_MS = 3_600_000;

/** How the connection holding stream sources' leadership locks names itself (`pg_stat_activity`). */
export const STREAMS_APPLICATION_NAME = 'herald-streams';

/**
 * Whether a change to a running stream source needs a new provider connection. A rename or a new
 * silence threshold does not: restarting for them dropped what Jellyfish sent meanwhile (it keeps no
 * replay), with no `herald.source.disconnected` to say so.
 */
function connectionChanged(running: SourceEntity, updated: SourceEntity): boolean {
  return (
    running.provider !== updated.provider || JSON.stringify(running.config) !== JSON.stringify(updated.config)
  );
}

interface RunningStream extends StreamRun {
  stream: StreamSource;
  state: StreamState;
  connectedSince: Date | null;
  lastError: string | null;
  stopped: boolean;
  /** State writes and state events, chained so they land in the order the transitions happened. */
  recording: Promise<void>;
  /** The start again after a refusal of its credentials (see `retryRefused`). */
  authRetryTimer: NodeJS.Timeout | undefined;
}

/** What a stream started again after a refusal of its credentials keeps of the run before. */
type CarriedRun = Pick<StreamRun, 'reconnects' | 'connectedOnce' | 'authRetry' | 'followsEarlierRun'>;

/**
 * Runs every enabled stream source on exactly one instance. Leadership is a session advisory lock per
 * source on a dedicated connection: when an instance dies its session ends, the lock frees, and another
 * instance's next reconcile (every few seconds) takes the source over. The same connection LISTENs for
 * source changes so the holder restarts a stream as soon as its source is updated or deleted.
 */
@Injectable()
export class StreamSupervisor implements OnApplicationBootstrap, OnApplicationShutdown {
  private connection: pg.Client | undefined;
  private readonly running = new Map<string, RunningStream>();
  private readonly connectBackoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
  private reconcileTimer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private shuttingDown = false;

  constructor(
    private readonly repository: SourceRepository,
    private readonly catalog: SourceCatalog,
    private readonly adapters: AdapterRegistry,
    private readonly writer: EventWriter,
    private readonly events: EventRepository,
    private readonly metrics: MetricsService,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    @InjectPinoLogger(StreamSupervisor.name) private readonly logger: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    // Zero in every state from the start: a replica holding no stream still reports the series.
    this.updateGauge();
    this.metrics.startStreamEventSeries(
      this.adapters.all.filter((a) => a.createStream).map((a) => a.provider),
    );
    void this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    clearTimeout(this.reconcileTimer);
    await this.reconciling;
    await Promise.all([...this.running.keys()].map((id) => this.stopStream(id)));
    await this.connection?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.shuttingDown) return;
    const client = new pg.Client(pgConnectionConfig(this.config.databaseUrl!, STREAMS_APPLICATION_NAME));
    client.on('error', (error) => this.connectionLost(client, error));
    client.on('end', () => this.connectionLost(client, new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.payload) this.catalog.invalidate(message.payload);
      this.scheduleReconcile(0);
    });
    try {
      await client.connect();
      await askServerKeepalives(client);
      await client.query(`LISTEN ${SOURCE_CHANGES_CHANNEL}`);
      this.connection = client;
      this.connectBackoff.reset();
      this.scheduleReconcile(0);
    } catch (error) {
      this.logger.warn({ err: error }, 'stream supervisor cannot reach the database; retrying');
      await client.end().catch(() => undefined);
      this.reconcileTimer = setTimeout(() => void this.connect(), this.connectBackoff.next());
    }
  }

  /** Locks die with the session: stop every stream we held, then reconnect and compete again. */
  private connectionLost(client: pg.Client, error: Error): void {
    if (this.connection !== client) return;
    this.connection = undefined;
    this.catalog.invalidate();
    if (this.shuttingDown) return;
    this.logger.warn({ err: error }, 'stream supervisor lost its database session; releasing stream sources');
    clearTimeout(this.reconcileTimer);
    this.reconciling = this.reconciling.then(async () => {
      await Promise.all([...this.running.keys()].map((id) => this.stopStream(id, false)));
    });
    this.reconcileTimer = setTimeout(() => void this.connect(), this.connectBackoff.next());
  }

  private scheduleReconcile(delayMs: number): void {
    clearTimeout(this.reconcileTimer);
    this.reconcileTimer = setTimeout(() => {
      this.reconciling = this.reconciling
        .then(() => this.reconcile())
        .catch((error) => {
          this.logger.warn({ err: error }, 'stream source reconcile failed');
        });
      void this.reconciling.then(() => {
        if (!this.shuttingDown && this.connection) this.scheduleReconcile(RECONCILE_INTERVAL_MS);
      });
    }, delayMs);
  }

  private async reconcile(): Promise<void> {
    const connection = this.connection;
    if (!connection || this.shuttingDown) return;
    const wanted = new Map((await this.repository.findEnabledStreams()).map((s) => [s.id, s]));
    for (const [id, running] of this.running) {
      const source = wanted.get(id);
      if (!source || connectionChanged(running.source, source)) await this.stopStream(id);
      else running.source = source;
    }
    for (const source of wanted.values()) {
      if (this.running.has(source.id) || this.shuttingDown) continue;
      const { rows } = await connection.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
        [STREAM_LOCK_NAMESPACE, source.id],
      );
      if (rows[0]?.locked) await this.startStream(source);
    }
  }

  private async startStream(source: SourceEntity, carried?: CarriedRun): Promise<void> {
    const adapter = this.adapters.find(source.provider);
    if (!adapter?.createStream) {
      this.logger.error({ sourceId: source.id, provider: source.provider }, 'provider has no stream mode');
      return;
    }
    const logger = this.logger.logger.child({ sourceId: source.id, provider: source.provider });
    // Read before this run records its first state over it.
    const earlierRun = carried ? null : await this.repository.findState(source.id).catch(() => null);
    const entry = {
      source,
      adapter,
      state: 'stopped',
      reconnects: 0,
      connectedOnce: false,
      // Doubling without jitter: a refusal is one source's, not a fleet's reconnecting at once.
      authRetry: new Backoff(
        {
          initialMs: this.config.streamAuthRetryMs,
          maxMs: Math.max(AUTH_RETRY_MAX_MS, this.config.streamAuthRetryMs),
        },
        () => 1,
      ),
      authRetryMs: 0,
      followsEarlierRun: earlierRun !== null,
      ...carried,
      connectedSince: null,
      lastError: null,
      stopped: false,
      recording: Promise.resolve(),
    } as Omit<RunningStream, 'stream'> as RunningStream;
    entry.stream = adapter.createStream(source.config, {
      sourceId: source.id,
      emit: (events) => this.storeReceived(entry, events),
      lastDedupKey: (prefix) => this.events.lastDedupKey(source.id, prefix),
      setState: (change) => this.onState(entry, change),
      logger,
      clock: systemClock,
      random: Math.random,
    });
    this.running.set(source.id, entry);
    logger.info('holding stream source');
    entry.stream.start();
  }

  private async stopStream(id: string, releaseLock = true): Promise<void> {
    const entry = this.running.get(id);
    if (!entry) return;
    this.running.delete(id);
    entry.stopped = true;
    clearTimeout(entry.authRetryTimer);
    const timeout = new Promise((resolve) => setTimeout(resolve, STREAM_STOP_TIMEOUT_MS).unref());
    await Promise.race([
      entry.stream
        .stop()
        .catch(() => undefined)
        .then(() => entry.recording),
      timeout,
    ]);
    this.updateGauge();
    if (releaseLock && this.connection) {
      // Told at once, the other instances take the source over now rather than at their next reconcile
      // (up to RECONCILE_INTERVAL_MS of events a rolling restart would lose; this instance's own
      // reconcile runs too, and takes it back unless it is stopping or the source is disabled).
      await this.connection
        .query(`SELECT pg_advisory_unlock($1, hashtext($2)), pg_notify('${SOURCE_CHANGES_CHANNEL}', '')`, [
          STREAM_LOCK_NAMESPACE,
          id,
        ])
        .catch(() => undefined);
    }
  }

  /**
   * Stores what the stream received, counted by outcome: a refusal other than an outage loses the
   * events (the adapter logs it and goes on), and the count is where an operator sees that happen.
   */
  private async storeReceived(entry: RunningStream, events: NormalizedEvent[]): Promise<void> {
    const provider = entry.source.provider;
    try {
      await this.store(entry, events);
      this.metrics.streamEvents.inc({ provider, outcome: 'stored' }, events.length);
    } catch (error) {
      this.metrics.streamEvents.inc({ provider, outcome: 'failed' }, events.length);
      throw error;
    }
  }

  /** Stores a stream's events, waiting out database outages (the stream keeps its order meanwhile). */
  private async store(entry: RunningStream, events: NormalizedEvent[]): Promise<void> {
    const origin = { sourceId: entry.source.id, provider: entry.source.provider };
    const backoff = new Backoff({ initialMs: 200, maxMs: 5_000 });
    // Only for events the adapter did not stamp on arrival: this runs once earlier emits committed.
    const now = new Date();
    const records = events.map((event) => fromNormalized(event, origin, now));
    for (;;) {
      try {
        await this.writer.append(records);
        return;
      } catch (error) {
        if (!isDatabaseUnavailable(error) || entry.stopped) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoff.next()));
      }
    }
  }

  private onState(entry: RunningStream, change: StreamStateChange): void {
    const previous = entry.state;
    entry.state = change.state;
    if (change.state === 'connecting' && previous === 'backoff') entry.reconnects++;
    if (change.state === 'connected') entry.authRetry.reset();
    if (change.state === 'auth_failed' && previous !== 'auth_failed') this.retryRefused(entry);
    if (change.state === 'connected') {
      if (previous !== 'connected') entry.connectedSince = new Date();
    } else if (previous === 'connected') entry.connectedSince = null;
    // `connecting` gives no reason: while it retries, the status still says why the last attempt failed.
    // A connected stream may report one too (a refused token renewal), cleared by the next report.
    if (change.state === 'connected') entry.lastError = change.reason ?? null;
    else if (change.reason !== undefined) entry.lastError = change.reason;
    this.updateGauge();
    const stateEvent = sourceStateEvent(entry, previous, change);
    if (change.state === 'connected') entry.connectedOnce = true;
    // The events an operator is told of are logged too, for whoever watches logs rather than events: the
    // connection too, or the last line about a source that recovered would still say it was down.
    if (stateEvent?.type === 'herald.source.connected') {
      this.logger.info(
        { sourceId: entry.source.id, reconnects: entry.reconnects },
        'stream source connected',
      );
    } else if (stateEvent) {
      this.logger.warn(
        { sourceId: entry.source.id, state: change.state, reason: change.reason ?? null },
        stateEvent.type === 'herald.source.failed'
          ? 'stream source cannot connect'
          : 'stream source disconnected',
      );
    }
    const stateEvents = stampArrival(stateEvent ? [stateEvent] : [], systemClock);
    // What the stream received before the change is stored before the change's event: a `disconnected`
    // committed ahead of them would tell a subscriber that re-syncs on it that they came after.
    const received = stateEvent ? entry.stream.settled() : undefined;
    const state = {
      sourceId: entry.source.id,
      state: change.state,
      lastError: entry.lastError,
      connectedSince: entry.connectedSince,
      reconnects: entry.reconnects,
      instanceId: this.instanceId,
    };
    entry.recording = entry.recording
      .then(async () => {
        await this.repository.saveState(state);
        if (received) {
          await received;
          await this.store(entry, stateEvents);
        }
      })
      .catch((error) =>
        this.logger.warn({ err: error, sourceId: entry.source.id }, 'could not record a stream state change'),
      );
  }

  /**
   * Starts an auth-failed stream again after a wait that doubles with each refusal in a row: a
   * provider's refusal can pass (SeaTable's token service down, a token replaced a moment late), and
   * a source left failed would stay unwatched until an operator noticed; a slow retry does not hammer
   * the provider as a reconnect loop would. A new config restarts it at once (reconcile).
   */
  private retryRefused(entry: RunningStream): void {
    entry.authRetryMs = entry.authRetry.next();
    entry.authRetryTimer = setTimeout(() => {
      this.reconciling = this.reconciling
        .then(async () => {
          // Stopped, restarted for a new config, or deleted meanwhile: nothing to retry.
          if (this.shuttingDown || this.running.get(entry.source.id) !== entry) return;
          await this.stopStream(entry.source.id, false);
          const { connectedOnce, authRetry } = entry;
          await this.startStream(entry.source, {
            reconnects: entry.reconnects + 1,
            connectedOnce,
            authRetry,
            followsEarlierRun: true,
          });
        })
        .catch((error) =>
          this.logger.warn(
            { err: error, sourceId: entry.source.id },
            'could not start a stream source again',
          ),
        );
    }, entry.authRetryMs);
  }

  private updateGauge(): void {
    const counts: Partial<Record<StreamState, number>> = {};
    for (const entry of this.running.values()) counts[entry.state] = (counts[entry.state] ?? 0) + 1;
    for (const state of ['connecting', 'connected', 'backoff', 'auth_failed', 'stopped'] as const) {
      this.metrics.sourceStates.set({ state }, counts[state] ?? 0);
    }
  }
}
