import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Backoff } from '@herald/events';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { HERALD_CONFIG, type HeraldConfig } from '../../config/herald-config.js';
import { toEnvelope } from '../../events/event-record.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { DeliveryOutcomes } from './delivery-outcomes.js';
import { type ClaimedDelivery, DELIVERY_WAKE_CHANNEL, DeliveryRepository } from './delivery.repository.js';
import { WebhookSender } from './webhook-sender.js';

/** Attempts in flight on one instance, in all and per endpoint. */
export const GLOBAL_CONCURRENCY = 64;
export const PER_ENDPOINT_CONCURRENCY = 16;
/**
 * A claim is a lease: renewed every HEARTBEAT_MS while the attempt runs, so an instance killed
 * mid-attempt frees its deliveries within LEASE_SECONDS (the reaper then makes them due again).
 */
const LEASE_SECONDS = 10;
const HEARTBEAT_MS = 3_000;
const REAPER_MS = 2_000;
/** Safety net under LISTEN/NOTIFY (lost connection, retries scheduled by other instances). */
const POLL_MS = 2_000;
/** How long shutdown lets running attempts finish before cancelling them. */
const SHUTDOWN_GRACE_MS = 10_000;

interface InFlight {
  delivery: ClaimedDelivery;
  done: Promise<void>;
}

/**
 * Sends due deliveries. Claims come from Postgres (`FOR UPDATE SKIP LOCKED` + lease), so any number
 * of instances share the queue; a NOTIFY from the event transaction wakes every worker at commit, and
 * a timer set to the next due retry (capped by POLL_MS) covers everything else.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly instanceId = uuidv7();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly perEndpoint = new Map<string, number>();
  private readonly cancel = new AbortController();
  private readonly listenBackoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
  private listener: pg.Client | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private pumping = false;
  private pumpAgain = false;
  private stopping = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly outcomes: DeliveryOutcomes,
    private readonly sender: WebhookSender,
    private readonly metrics: MetricsService,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
    @InjectPinoLogger(DeliveryWorker.name) private readonly logger: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    void this.listen();
    this.timers.push(
      setInterval(() => void this.heartbeat(), HEARTBEAT_MS),
      setInterval(() => void this.reap(), REAPER_MS),
    );
    void this.reap();
    this.wake(0);
  }

  /** Stop claiming, let running attempts finish (bounded), cancel and release the rest. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.timers.forEach(clearInterval);
    clearTimeout(this.wakeTimer);
    await this.listener?.end().catch(() => undefined);
    const running = () => Promise.all([...this.inFlight.values()].map((f) => f.done));
    const grace = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
    await Promise.race([running(), grace]);
    this.cancel.abort();
    await running();
  }

  private async listen(): Promise<void> {
    if (this.stopping) return;
    const client = new pg.Client({
      connectionString: this.config.databaseUrl,
      application_name: 'herald-delivery',
    });
    const lost = (error: Error) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      if (this.stopping) return;
      this.logger.warn({ err: error }, 'delivery wake-up connection lost; reconnecting');
      setTimeout(() => void this.listen(), this.listenBackoff.next()).unref();
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('connection ended')));
    client.on('notification', () => this.wake(0));
    try {
      await client.connect();
      await client.query(`LISTEN ${DELIVERY_WAKE_CHANNEL}`);
      this.listener = client;
      this.listenBackoff.reset();
      this.wake(0);
    } catch (error) {
      this.logger.warn({ err: error }, 'delivery wake-up connection failed; polling until it is back');
      await client.end().catch(() => undefined);
      setTimeout(() => void this.listen(), this.listenBackoff.next()).unref();
    }
  }

  /** Runs a claim round within `delayMs` (an earlier wake-up wins). */
  private wake(delayMs: number): void {
    if (this.stopping) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (at >= this.wakeAt) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAt = Infinity;
        void this.pump();
      },
      Math.max(0, delayMs),
    );
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        await this.claimRound();
      } while (this.pumpAgain && !this.stopping);
    } catch (error) {
      this.logger.warn({ err: error }, 'delivery claim failed');
      this.wake(POLL_MS);
    } finally {
      this.pumping = false;
    }
  }

  private async claimRound(): Promise<void> {
    for (;;) {
      const free = GLOBAL_CONCURRENCY - this.inFlight.size;
      if (this.stopping || free <= 0) return;
      const { claimedAt, deliveries } = await this.deliveries.claim(
        this.instanceId,
        LEASE_SECONDS,
        free,
        PER_ENDPOINT_CONCURRENCY,
        this.perEndpoint,
      );
      if (this.stopping) {
        await this.deliveries.release(
          this.instanceId,
          deliveries.map((d) => d.id),
        );
        return;
      }
      deliveries.forEach((delivery) => this.start(delivery));
      if (deliveries.length < free) {
        const due = await this.deliveries.nextDueAfter(claimedAt);
        this.wake(due ? Math.min(due.getTime() - Date.now(), POLL_MS) : POLL_MS);
        return;
      }
    }
  }

  private start(delivery: ClaimedDelivery): void {
    this.perEndpoint.set(delivery.endpointId, (this.perEndpoint.get(delivery.endpointId) ?? 0) + 1);
    const done = this.attempt(delivery)
      .catch((error) =>
        this.logger.error({ err: error, deliveryId: delivery.id }, 'delivery attempt crashed'),
      )
      .finally(() => {
        this.inFlight.delete(delivery.id);
        const left = (this.perEndpoint.get(delivery.endpointId) ?? 1) - 1;
        if (left > 0) this.perEndpoint.set(delivery.endpointId, left);
        else this.perEndpoint.delete(delivery.endpointId);
        this.wake(0);
      });
    this.inFlight.set(delivery.id, { delivery, done });
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const attemptedAt = new Date();
    const result = await this.sender.send(
      {
        url: delivery.url,
        secrets: delivery.secrets,
        id: delivery.event.id,
        body: JSON.stringify(toEnvelope(delivery.event)),
      },
      this.cancel.signal,
    );
    // Cancelled by shutdown: not the receiver's fault, so no attempt is counted.
    if (this.cancel.signal.aborted && result.status === null) {
      await this.deliveries.release(this.instanceId, [delivery.id]);
      return;
    }
    await this.outcomes.record(this.instanceId, delivery, result, attemptedAt);
  }

  private async heartbeat(): Promise<void> {
    await this.deliveries
      .extendLeases(this.instanceId, [...this.inFlight.keys()], LEASE_SECONDS)
      .catch((error) => this.logger.warn({ err: error }, 'could not extend delivery leases'));
  }

  private async reap(): Promise<void> {
    try {
      const reaped = await this.deliveries.reapExpiredLeases();
      if (reaped > 0) this.logger.warn({ reaped }, 'made deliveries with expired leases due again');
      this.metrics.deliveriesPending.set(await this.deliveries.countPending());
    } catch (error) {
      this.logger.warn({ err: error }, 'delivery reaper failed');
    }
  }
}
