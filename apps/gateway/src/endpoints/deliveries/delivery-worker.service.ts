import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { INSTANCE_ID } from '../../config/herald-config.js';
import { Channel, PgListener } from '../../database/pg-listener.service.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { DeliveryOutcomes } from './delivery-outcomes.js';
import {
  type Claim,
  type ClaimedDelivery,
  DeliveryRepository,
  RATE_LIMITED_AHEAD_SECONDS,
} from './delivery.repository.js';
import { ATTEMPT_TIMEOUT_MS, WebhookSender } from './webhook-sender.js';

/** Deliveries one instance holds (waiting, sending or being recorded). */
export const GLOBAL_CONCURRENCY = 512;
/**
 * Beyond GLOBAL_CONCURRENCY, deliveries an instance still takes for endpoints with none waiting for a
 * slot, to send at once. Deliveries claimed ahead wait for their own endpoint's slots, so four endpoints
 * whose receivers hang hold the whole limit with 64 requests in flight: without this, every other
 * endpoint's new delivery waited for a hung attempt to time out (10-15 s, Svix-migrant review).
 */
export const OVERFLOW_CONCURRENCY = 128;
/** Requests in flight to one endpoint from one instance. */
export const PER_ENDPOINT_CONCURRENCY = 16;
/**
 * Deliveries claimed per endpoint ahead of a free request slot, so slots are refilled at once instead
 * of after a claim round trip, and a backlog is claimed in large batches rather than one statement per
 * finished attempt (claims commit, and commits wait for the disk). A quarter of GLOBAL_CONCURRENCY, so
 * an instance full of backlogged endpoints needs four of them (256 ahead drained no faster:
 * docs/performance.md, 2026-12-04, evening).
 */
const CLAIM_AHEAD_PER_ENDPOINT = 8 * PER_ENDPOINT_CONCURRENCY;
/**
 * A finished attempt triggers a claim only once its endpoint's (or the instance's) claimed deliveries
 * fall to this share of the limit, and only when more may be due (see `needsRefill`); a NOTIFY or a
 * due retry triggers one at once.
 */
const REFILL_SHARE = 0.5;
/**
 * A claim is a lease: renewed every HEARTBEAT_MS while the attempt runs, so an instance killed
 * mid-attempt frees its deliveries within LEASE_SECONDS (the reaper then makes them due again).
 */
const LEASE_SECONDS = 10;
const HEARTBEAT_MS = 3_000;
const REAPER_MS = 2_000;
/** `herald_deliveries_pending` is counted at most this often, however often it is scraped. */
const PENDING_COUNT_MS = 15_000;
/** How often pending deliveries of deleted endpoints are swept (see `sweepStrays`). */
const STRAY_SWEEP_MS = 60_000;
/** Safety net under LISTEN/NOTIFY (lost connection, retries scheduled by other instances). */
const POLL_MS = 2_000;
/**
 * How long shutdown lets running attempts finish before cancelling them: longer than an attempt may
 * take, so a stop cancels none. A cancelled attempt may have reached the receiver, and another instance
 * would send it again; a rolling deploy would resend every attempt to a receiver slower than the grace.
 */
export const SHUTDOWN_GRACE_MS = ATTEMPT_TIMEOUT_MS + 1_000;

/** One claim's bounds: at most `limit` in all, and `perEndpoint` per endpoint less its `busy` count. */
interface ClaimRound {
  limit: number;
  perEndpoint: number;
  busy: Map<string, number>;
}

/**
 * Sends due deliveries. Claims come from Postgres (`FOR UPDATE SKIP LOCKED` + lease), so any number
 * of instances share the queue. The event writer wakes this instance's worker in process when a commit
 * queued deliveries (and, while other instances listen, theirs by NOTIFY at commit); a timer set to the
 * next due retry (capped by POLL_MS) covers everything else.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** Delivery id → its attempt, settled once the outcome is recorded. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Per endpoint: claimed and not yet answered (waiting for a slot or sending). */
  private readonly perEndpoint = new Map<string, number>();
  private readonly sending = new Map<string, number>();
  private readonly waiting = new Map<string, Array<(go: boolean) => void>>();
  /** Per rate-limited endpoint, its rate as the last claim read it (forgotten when it changes). */
  private readonly rateLimits = new Map<string, number>();
  /** Per endpoint, its attempts waiting for their turn under its rate limit: each ends its wait unsent. */
  private readonly pacing = new Map<string, Set<() => void>>();
  /** Shutdown's grace ran out and the attempts still running were aborted. */
  private cancelled = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeImmediate: NodeJS.Immediate | undefined;
  private wakeAt = Infinity;
  private pumping = false;
  /** The claim rounds running or last run (shutdown waits for them, so what they leased is released). */
  private pumped: Promise<void> = Promise.resolve();
  /** The last claim round stopped at GLOBAL_CONCURRENCY (due deliveries may be waiting for any endpoint). */
  private instanceFull = false;
  private pumpAgain = false;
  /** Endpoints whose last claim gave them their whole share, so more of theirs may be due. */
  private readonly backlogged = new Set<string>();
  /** The last claim was offered more than it could take: any endpoint may have more due. */
  private offeredMore = false;
  /** Endpoints that ran low while a claim was in flight (see `refill`). */
  private readonly lowDuringClaim = new Set<string>();
  /** Endpoints that changed while a claim was in flight (see `endpointChanged`). */
  private readonly changedDuringClaim = new Set<string>();
  private stopping = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly outcomes: DeliveryOutcomes,
    private readonly sender: WebhookSender,
    private readonly metrics: MetricsService,
    private readonly listener: PgListener,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    @InjectPinoLogger(DeliveryWorker.name) private readonly logger: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    let counted: { at: number; count: Promise<number> } | undefined;
    this.metrics.countPendingWith(() => {
      const now = Date.now();
      if (!counted || now - counted.at >= PENDING_COUNT_MS)
        counted = { at: now, count: this.deliveries.countPending() };
      return counted.count;
    });
    // The payload names an endpoint that changed (this instance's own changes come back this way too).
    this.listener.on(Channel.deliveries, (endpointId) => {
      if (endpointId) this.endpointChanged(endpointId);
      this.wake(0);
    });
    // Notifications may have been missed while the listener was away.
    this.listener.on('reconnected', () => this.wake(0));
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS);
    this.timers.push(
      setInterval(() => void this.reap(), REAPER_MS),
      setInterval(() => void this.sweepStrays(), STRAY_SWEEP_MS),
    );
    void this.reap();
    this.wake(0);
  }

  /** Stop claiming, release what has not started, let running attempts finish (bounded), cancel the rest. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.timers.forEach(clearInterval);
    this.cancelWake();
    // A claim in flight releases what it leased once it sees `stopping`; the database must still be there.
    await this.pumped;
    this.deliveries.closeClaims();
    // Claimed but not started: their attempts release the leases instead of sending.
    for (const queue of this.waiting.values()) queue.splice(0).forEach((go) => go(false));
    for (const waits of this.pacing.values()) waits.forEach((stop) => stop());
    const running = () => Promise.all(this.inFlight.values());
    const grace = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
    await Promise.race([running(), grace]);
    this.cancelled = true;
    this.outcomes.stopRetrying();
    // Those still sending: the others have their answer and wait for its write.
    const sending = [...this.sending.values()].reduce((sum, n) => sum + n, 0);
    if (sending > 0) {
      this.logger.warn(
        { attempts: sending },
        'cancelling webhook attempts still running after the shutdown grace; their deliveries go back',
      );
    }
    this.sender.abortAll();
    await running();
    // Only now: a lease that ran out during the grace would let another instance reap and resend the
    // delivery, and the answer to this attempt would then fail the lease check when recorded.
    clearInterval(this.heartbeatTimer);
  }

  /** The event writer queued deliveries on this instance: claim now. */
  deliveriesQueued(): void {
    this.wake(0);
  }

  /**
   * The endpoint's url, secrets or state changed, or it was deleted: its deliveries waiting for a slot
   * were claimed with it as it was, so they go back, to be claimed again as it is now (or not at all).
   * Those already sending finish.
   */
  private endpointChanged(endpointId: string): void {
    // A claim in flight may have read the endpoint before the change: what it brings back for it goes
    // back too, rather than being sent as it was.
    if (this.pumping) this.changedDuringClaim.add(endpointId);
    this.rateLimits.delete(endpointId);
    const queue = this.waiting.get(endpointId);
    this.waiting.delete(endpointId);
    queue?.forEach((go) => go(false));
    // Those waiting for their turn under its rate limit have not started either.
    this.pacing.get(endpointId)?.forEach((stop) => stop());
  }

  /** Runs a claim round within `delayMs` (an earlier wake-up wins). */
  private wake(delayMs: number): void {
    if (this.stopping) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (at >= this.wakeAt) return;
    this.cancelWake();
    this.wakeAt = at;
    const run = () => {
      this.wakeAt = Infinity;
      this.pump();
    };
    // A timer fires a millisecond or two later at the earliest, which a live delivery would wait on
    // every time; an immediate runs once the current I/O has been handled.
    if (delayMs <= 0) this.wakeImmediate = setImmediate(run);
    else this.wakeTimer = setTimeout(run, delayMs);
  }

  private cancelWake(): void {
    clearTimeout(this.wakeTimer);
    clearImmediate(this.wakeImmediate);
  }

  /** Runs claim rounds until nothing more is due; while they run, asks them for one more round. */
  private pump(): void {
    if (this.pumping) this.pumpAgain = true;
    else this.pumped = this.claimRounds();
  }

  private async claimRounds(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.lowDuringClaim.clear();
        await this.claimRound();
      } while (
        !this.stopping &&
        (this.pumpAgain || [...this.lowDuringClaim].some((id) => this.needsRefill(id)))
      );
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
      this.instanceFull = free <= 0;
      if (this.stopping) return;
      const round = free > 0 ? this.aheadRound(free) : this.overflowRound();
      if (!round) return;
      const { limit, perEndpoint, busy } = round;
      this.changedDuringClaim.clear();
      const claim = await this.deliveries.claim(this.instanceId, LEASE_SECONDS, limit, perEndpoint, busy);
      const { nextDueInMs, deliveries, orphaned } = claim;
      // Not awaited: the claimed deliveries need not wait for it (`discard` catches its own errors).
      if (orphaned.length > 0) void this.discard(orphaned);
      for (const { endpointId, rateLimit } of deliveries) {
        if (rateLimit === null) this.rateLimits.delete(endpointId);
        else this.rateLimits.set(endpointId, rateLimit);
      }
      const cutByFairShare = this.noteBacklogs(claim, perEndpoint, busy);
      // A backlog (more due than the claim could take) is often a burst the planner's statistics predate
      // (see `DeliveryRepository.refreshStatistics`); refreshed in the background.
      if (claim.offeredMore || this.backlogged.size > 0) {
        this.deliveries
          .refreshStatistics()
          .catch((error) => this.logger.warn({ err: error }, 'could not refresh the deliveries statistics'));
      }
      // Not started: all of them once stopping; otherwise those of an endpoint that changed while the
      // claim was in flight, due again at once to be claimed as the endpoint is now (or not at all).
      const unstarted: string[] = [];
      for (const delivery of deliveries) {
        if (this.stopping || this.changedDuringClaim.has(delivery.endpointId)) unstarted.push(delivery.id);
        else this.start(delivery);
      }
      if (unstarted.length > 0) await this.deliveries.release(this.instanceId, unstarted);
      if (this.stopping) return;
      if (unstarted.length > 0) this.pumpAgain = true;
      // A claim short of its limit took everything due, unless an endpoint was held to its fair share.
      if (deliveries.length + orphaned.length < limit && !cutByFairShare) {
        this.wake(nextDueInMs === null ? POLL_MS : Math.min(nextDueInMs, POLL_MS));
        return;
      }
    }
  }

  /** Below GLOBAL_CONCURRENCY: each endpoint may be claimed for ahead of its free slots. */
  private aheadRound(free: number): ClaimRound {
    return { limit: free, perEndpoint: CLAIM_AHEAD_PER_ENDPOINT, busy: new Map(this.perEndpoint) };
  }

  /** How many deliveries of the endpoint are claimed ahead of its slots, at most (see CLAIM_STATEMENT). */
  private aheadShare(endpointId: string): number {
    const rate = this.rateLimits.get(endpointId);
    if (rate === undefined) return CLAIM_AHEAD_PER_ENDPOINT;
    return Math.min(CLAIM_AHEAD_PER_ENDPOINT, Math.ceil(rate * RATE_LIMITED_AHEAD_SECONDS));
  }

  /**
   * At GLOBAL_CONCURRENCY: up to OVERFLOW_CONCURRENCY more, only to fill the free slots of endpoints
   * with nothing waiting for one, so what is claimed here is sent at once; null when that is used up.
   */
  private overflowRound(): ClaimRound | null {
    const limit = GLOBAL_CONCURRENCY + OVERFLOW_CONCURRENCY - this.inFlight.size;
    if (limit <= 0) return null;
    const busy = new Map(this.perEndpoint);
    // Saturated, hence left out of the claim.
    for (const endpointId of this.waiting.keys()) busy.set(endpointId, PER_ENDPOINT_CONCURRENCY);
    return { limit, perEndpoint: PER_ENDPOINT_CONCURRENCY, busy };
  }

  /** Claimed deliveries with nothing to send (see `Claim.orphaned`); if this fails, the reaper returns them. */
  private async discard(orphaned: string[]): Promise<void> {
    try {
      await this.deliveries.discard(this.instanceId, orphaned);
      this.logger.warn({ deliveries: orphaned.length }, 'dropped deliveries whose event is gone');
    } catch (error) {
      this.logger.warn({ err: error }, 'could not drop deliveries whose event is gone');
    }
  }

  private start(delivery: ClaimedDelivery): void {
    this.occupy(delivery.endpointId, 1);
    const done = this.attempt(delivery)
      .catch((error) =>
        // A warning when the database was away past the outcome's retries (see databaseOutageLogHook).
        this.logger.error(
          { err: error, deliveryId: delivery.id },
          'delivery attempt ended without its outcome recorded; it is sent again once its lease lapses',
        ),
      )
      .finally(() => {
        this.inFlight.delete(delivery.id);
        this.refill(delivery.endpointId);
      });
    this.inFlight.set(delivery.id, done);
  }

  /**
   * Claims more for the endpoint once it runs low. While a claim is in flight, the need is noted and
   * looked at again when the claim is back, rather than queuing another claim at once: the claim in
   * flight may well have refilled the endpoint.
   */
  private refill(endpointId: string): void {
    if (!this.needsRefill(endpointId)) return;
    if (this.pumping) this.lowDuringClaim.add(endpointId);
    else this.wake(0);
  }

  /**
   * Only an endpoint that may have more due is worth a claim when it runs low: one whose last claim
   * was cut short by its share or by the claim's limit. Any other has had all its due deliveries, and
   * new ones announce themselves (NOTIFY, the retry timer). Claiming after every finished attempt
   * regardless cost a claim that found nothing for each live delivery.
   */
  private needsRefill(endpointId: string): boolean {
    // At the limit an endpoint holds at most its 16 slots (see `overflowRound`): half of those.
    const share = this.instanceFull ? PER_ENDPOINT_CONCURRENCY : this.aheadShare(endpointId);
    return (
      ((this.perEndpoint.get(endpointId) ?? 0) <= share * REFILL_SHARE &&
        (this.offeredMore || this.backlogged.has(endpointId))) ||
      (this.instanceFull && this.inFlight.size <= GLOBAL_CONCURRENCY * REFILL_SHARE)
    );
  }

  /**
   * Which endpoints may have more due than the claim gave them, `busy` being their counts before it and
   * `perEndpoint` the claim's bound on each; true when one of them was held to the claim's fair share
   * below its own bound (see CLAIM_STATEMENT), so a claim right after may give it more.
   */
  private noteBacklogs(
    { deliveries, offeredMore, fairShare }: Claim,
    perEndpoint: number,
    busy: ReadonlyMap<string, number>,
  ): boolean {
    const bound = (endpointId: string) =>
      Math.min(perEndpoint, this.aheadShare(endpointId)) - (busy.get(endpointId) ?? 0);
    // Many endpoints sharing a claim each offer it their fair share at most.
    const share = (endpointId: string) => Math.min(bound(endpointId), fairShare);
    let cutByFairShare = false;
    const granted = new Map<string, number>();
    for (const { endpointId } of deliveries) granted.set(endpointId, (granted.get(endpointId) ?? 0) + 1);
    // A saturated endpoint was left out of the claim, so the claim says nothing about it.
    for (const endpointId of this.backlogged) {
      if (!granted.has(endpointId) && share(endpointId) > 0) this.backlogged.delete(endpointId);
    }
    for (const [endpointId, count] of granted) {
      if (count >= share(endpointId)) this.backlogged.add(endpointId);
      else this.backlogged.delete(endpointId);
      if (count >= fairShare && fairShare < bound(endpointId)) cutByFairShare = true;
    }
    this.offeredMore = offeredMore;
    return cutByFairShare;
  }

  private occupy(endpointId: string, change: 1 | -1): void {
    const count = (this.perEndpoint.get(endpointId) ?? 0) + change;
    if (count > 0) this.perEndpoint.set(endpointId, count);
    else this.perEndpoint.delete(endpointId);
  }

  /** Waits for a request slot at the endpoint; false when shutdown or a change of the endpoint came first. */
  private acquireSlot(endpointId: string): Promise<boolean> {
    if (this.stopping) return Promise.resolve(false);
    const busy = this.sending.get(endpointId) ?? 0;
    if (busy < PER_ENDPOINT_CONCURRENCY) {
      this.sending.set(endpointId, busy + 1);
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const queue = this.waiting.get(endpointId) ?? [];
      queue.push(resolve);
      this.waiting.set(endpointId, queue);
    });
  }

  /** Hands the slot to the next waiting delivery of the endpoint, or frees it. */
  private releaseSlot(endpointId: string): void {
    const queue = this.waiting.get(endpointId);
    const next = queue?.shift();
    if (queue?.length === 0) this.waiting.delete(endpointId);
    if (next) return next(true);
    const busy = (this.sending.get(endpointId) ?? 1) - 1;
    if (busy > 0) this.sending.set(endpointId, busy);
    else this.sending.delete(endpointId);
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    if (!(await this.acquireSlot(delivery.endpointId))) {
      this.occupy(delivery.endpointId, -1);
      return this.giveBack(delivery);
    }
    let attemptedAt = new Date();
    let result;
    try {
      if (await this.paced(delivery)) {
        attemptedAt = new Date();
        result = await this.sender.send({
          url: delivery.url,
          secrets: delivery.secrets,
          headers: delivery.headers,
          id: delivery.event.id,
          body: delivery.body,
        });
      }
    } finally {
      // The receiver is free again while the outcome is written (the lease is kept until then).
      this.releaseSlot(delivery.endpointId);
      this.occupy(delivery.endpointId, -1);
      this.refill(delivery.endpointId);
    }
    // Stopped while it waited for its turn (not sent), or cancelled by shutdown (not the receiver's
    // fault): no attempt is counted.
    if (result === undefined || (this.cancelled && result.status === null)) return this.giveBack(delivery);
    const next = await this.outcomes.record(delivery, result, attemptedAt);
    // No claim follows a finished attempt unless more is due (see `needsRefill`), so the retry sets the timer.
    if (next.status === 'pending') this.wake(next.retryInSeconds * 1000);
  }

  /**
   * Gives back a delivery that was not attempted (shutdown, or a change of its endpoint), due at once:
   * claimed again as the endpoint is now, or by another instance (a no-op wake once stopping).
   */
  private async giveBack(delivery: ClaimedDelivery): Promise<void> {
    await this.deliveries.release(this.instanceId, [delivery.id]);
    this.wake(0);
  }

  /**
   * Waits for the delivery's turn under its endpoint's rate limit (at once without one); false when
   * shutdown or a change of the endpoint came first.
   */
  private async paced(delivery: ClaimedDelivery): Promise<boolean> {
    if (delivery.rateLimit === null) return true;
    const waitMs = await this.deliveries.reserveSendTime(delivery.endpointId, delivery.rateLimit);
    if (this.stopping) return false;
    if (waitMs <= 0) return true;
    const waits = this.pacing.get(delivery.endpointId) ?? new Set<() => void>();
    this.pacing.set(delivery.endpointId, waits);
    return new Promise((resolve) => {
      const end = (go: boolean) => {
        clearTimeout(timer);
        waits.delete(stop);
        if (waits.size === 0 && this.pacing.get(delivery.endpointId) === waits) {
          this.pacing.delete(delivery.endpointId);
        }
        resolve(go);
      };
      const stop = () => end(false);
      const timer = setTimeout(() => end(true), waitMs);
      waits.add(stop);
    });
  }

  private async heartbeat(): Promise<void> {
    await this.deliveries
      .extendLeases(this.instanceId, [...this.inFlight.keys()], LEASE_SECONDS)
      .catch((error) => this.logger.warn({ err: error }, 'could not extend delivery leases'));
  }

  /**
   * Deletes pending deliveries whose endpoint is gone: a fan-out or a replay that raced the endpoint's
   * deletion queued them after it (no foreign key refuses them). Claims never take them, since they
   * join `endpoints`, so without this they would wait for retention and count as pending. Returns how
   * many went; the gateway calls it every STRAY_SWEEP_MS.
   */
  async sweepStrays(): Promise<number> {
    try {
      const swept = await this.deliveries.deleteStrays();
      if (swept > 0) this.logger.warn({ swept }, 'deleted pending deliveries of deleted endpoints');
      return swept;
    } catch (error) {
      this.logger.warn({ err: error }, 'could not sweep deliveries of deleted endpoints');
      return 0;
    }
  }

  private async reap(): Promise<void> {
    try {
      const reaped = await this.deliveries.reapExpiredLeases();
      if (reaped > 0) this.logger.warn({ reaped }, 'made deliveries with expired leases due again');
    } catch (error) {
      this.logger.warn({ err: error }, 'delivery reaper failed');
    }
  }
}
