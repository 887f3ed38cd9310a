import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '@herald/events';
import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { HERALD_CONFIG, type HeraldConfig, INSTANCE_ID } from '../../config/herald-config.js';
import { isDatabaseUnavailable } from '../../common/errors/problem.js';
import { LogThrottle } from '../../common/log-throttle.js';
import type { NewEvent } from '../../events/event-record.js';
import { EventWriter } from '../../events/event-writer.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { EndpointRepository } from '../endpoint.repository.js';
import { DeliveryClock } from './delivery-clock.js';
import {
  type ClaimedDelivery,
  type DeliveryTransition,
  DEFAULT_STREAK_PAUSE_SECONDS,
  DeliveryRepository,
  type Outcome,
} from './delivery.repository.js';
import {
  DELIVERY_FAILING_TYPE,
  deliveryFailingEvent,
  endpointDisabledEvent,
} from './endpoint-health-events.js';
import { nextRetryDelay, parseRetryAfter, RETRY_JITTER } from './retry-policy.js';
import type { SendResult } from './webhook-sender.js';

/** An endpoint whose every attempt failed for this long is disabled (contract §7). */
export const SUSTAINED_FAILURE_MS = 5 * 24 * 60 * 60 * 1000;

/** Why Herald disabled an endpoint, as `disabledReason` and the report say. */
export const disableReason = (cause: { gone: true } | { failingSince: Date }): string =>
  'gone' in cause
    ? 'the endpoint answered 410 Gone'
    : `every attempt failed since ${cause.failingSince.toISOString()}`;

/** Outcomes written in one statement at most (a statement's parameters grow with it). */
const MAX_OUTCOMES_PER_STATEMENT = 500;
/**
 * After a write, fewer outcomes than this wait up to OUTCOME_LINGER_MS for more to share their statement:
 * each statement has a fixed cost (about 1 ms of execution, plus planning before it was prepared by
 * name), so batches of the few that finish during one write made the statements, not the attempts, the
 * database's main work.
 */
const OUTCOMES_WORTH_A_STATEMENT = 100;
const OUTCOME_LINGER_MS = 10;
/**
 * How long a batch is retried while the database is unreachable (a restart, a failover's first
 * seconds): an attempt left unrecorded keeps its lease until the lease lapses, about this long without a
 * heartbeat, and then the delivery is sent again. Past that, writing it would find the lease gone.
 */
const OUTCOME_RETRY_MS = 10_000;
const OUTCOME_RETRY_MAX_DELAY_MS = 1_000;
/**
 * A failed attempt is logged once per endpoint per window, with how many more failed since: a receiver
 * that is down fails every attempt, and one line each would flood the log. The attempts themselves are
 * all in the deliveries API.
 */
const FAILURE_LOG_WINDOW_MS = 60_000;

interface PendingOutcome {
  delivery: ClaimedDelivery;
  result: SendResult;
  /** What the batch statement writes; `reportFailure` unless the failure disables the endpoint (see `followUp`). */
  outcome: Outcome;
  resolve: (followUp: Promise<DeliveryTransition>) => void;
  reject: (error: unknown) => void;
}

/**
 * What one attempt's answer means for the delivery, the endpoint and Herald's own health events.
 * Outcomes are written in batches, one statement each (group commit): attempts that finish while a
 * batch is being written (or shortly after, see OUTCOME_LINGER_MS) go into the next one, so the
 * database sees a few statements per second under load instead of one per delivery, and a lone
 * attempt is written at once.
 * Health events are appended after the outcome has committed, not inside its statement: the event
 * writer takes its cluster-wide lock for every append (seq order), fans the event out in its own
 * transaction and wakes sockets after its commit, and taking that lock in every outcome batch would
 * serialise the drain behind ingest. The outcome and the disabling commit a mark instead, and
 * HealthEventRecovery appends what this append lost; their dedup keys make the two one event.
 */
@Injectable()
export class DeliveryOutcomes {
  private readonly queue: PendingOutcome[] = [];
  private writing = false;
  private retrying = true;
  private readonly failureLog = new LogThrottle(FAILURE_LOG_WINDOW_MS, systemClock);
  private readonly unmovedLog = new LogThrottle(FAILURE_LOG_WINDOW_MS, systemClock);
  private readonly givenUpLog = new LogThrottle(FAILURE_LOG_WINDOW_MS, systemClock);
  /**
   * A failing streak is broken by a pause of a day without failures, or by the retry schedule's longest
   * wait (stretched by its jitter) when that is longer: a delivery waiting for its next retry is no pause.
   */
  private readonly streakPauseSeconds: number;

  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly endpoints: EndpointRepository,
    private readonly writer: EventWriter,
    private readonly clock: DeliveryClock,
    private readonly metrics: MetricsService,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    @InjectPinoLogger(DeliveryOutcomes.name) private readonly logger: PinoLogger,
  ) {
    this.streakPauseSeconds = Math.max(
      DEFAULT_STREAK_PAUSE_SECONDS,
      Math.max(...config.retrySchedule) * (1 + RETRY_JITTER),
    );
  }

  /**
   * Resolves with where the delivery moved, once the attempt is stored and its consequences (disabling,
   * health events) are done.
   */
  record(delivery: ClaimedDelivery, result: SendResult, attemptedAt: Date): Promise<DeliveryTransition> {
    const succeeded = result.status !== null && result.status >= 200 && result.status < 300;
    // A resend by hand is one attempt, not the rest of a schedule (see `DeliveryRepository.makeDue`).
    const retryIn =
      succeeded || result.status === 410 || delivery.manualRetry
        ? undefined
        : nextRetryDelay(
            this.config.retrySchedule,
            delivery.attemptCount + 1,
            parseRetryAfter(result.retryAfter, attemptedAt),
          );
    const next: DeliveryTransition = succeeded
      ? { status: 'delivered' }
      : retryIn === undefined
        ? { status: 'failed' }
        : { status: 'pending', retryInSeconds: retryIn };
    this.metrics.deliveryAttempts.inc({
      outcome: succeeded ? 'delivered' : result.status === null ? 'error' : 'rejected',
    });
    this.metrics.deliveryAttemptSeconds.observe(result.durationMs / 1000);
    if (next.status !== 'pending') this.metrics.deliveriesSettled.inc({ status: next.status });
    if (!succeeded) this.logFailure(delivery, result, next);
    if (next.status === 'failed') this.logGivenUp(delivery, result);
    const outcome: Outcome = {
      id: delivery.id,
      attemptsBefore: delivery.attemptCount,
      attempt: {
        url: delivery.url,
        attemptedAt,
        responseStatus: result.status,
        responseBody: result.body,
        durationMs: result.durationMs,
        error: result.error,
      },
      next,
      // A 410 is reported as the disabling it causes.
      // Nor is a failed resend news: the operator who asked for it sees its answer.
      reportFailure:
        next.status === 'failed' &&
        result.status !== 410 &&
        !delivery.manualRetry &&
        delivery.event.type !== DELIVERY_FAILING_TYPE,
    };
    return new Promise((resolve, reject) => {
      this.queue.push({ delivery, result, outcome, resolve, reject });
      if (!this.writing) void this.writeQueued();
    });
  }

  private logFailure(delivery: ClaimedDelivery, result: SendResult, next: DeliveryTransition): void {
    const admitted = this.failureLog.admit(delivery.endpointId);
    if (!admitted) return;
    this.logger.warn(
      {
        endpointId: delivery.endpointId,
        deliveryId: delivery.id,
        responseStatus: result.status,
        error: result.error,
        next: next.status === 'pending' ? `retry in ${Math.round(next.retryInSeconds)} s` : next.status,
        failedUnlogged: admitted.suppressed,
      },
      'webhook attempt failed',
    );
  }

  /**
   * A delivery that will not be attempted again, apart from the attempt's own line: that one is throttled
   * with every failed attempt of the endpoint, and the last of a schedule fell within the minute of an
   * earlier one as often as not.
   */
  private logGivenUp(delivery: ClaimedDelivery, result: SendResult): void {
    const admitted = this.givenUpLog.admit(delivery.endpointId);
    if (!admitted) return;
    this.logger.warn(
      {
        endpointId: delivery.endpointId,
        deliveryId: delivery.id,
        eventId: delivery.event.id,
        attempts: delivery.attemptCount + 1,
        responseStatus: result.status,
        error: result.error,
        failedUnlogged: admitted.suppressed,
      },
      'webhook delivery failed: no more attempts',
    );
  }

  /** Shutdown's grace is over: a write that fails is not retried, its leases left to lapse. */
  stopRetrying(): void {
    this.retrying = false;
  }

  private async writeQueued(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_OUTCOMES_PER_STATEMENT);
        try {
          await this.writeRetrying(batch);
        } catch (error) {
          if (batch.length === 1 || isDatabaseUnavailable(error)) {
            // Unrecorded attempts keep their leases until the reaper makes them due again.
            batch.forEach((pending) => pending.reject(error));
          } else {
            // One outcome the database refuses fails its whole statement; alone, it fails on its own and
            // the rest are recorded, instead of all waiting for the reaper and being sent again.
            this.logger.warn(
              { err: error, outcomes: batch.length },
              'outcome batch refused, writing one by one',
            );
            for (const pending of batch) await this.write([pending]).catch((e: unknown) => pending.reject(e));
          }
        }
        if (this.queue.length > 0 && this.queue.length < OUTCOMES_WORTH_A_STATEMENT) {
          await sleep(OUTCOME_LINGER_MS);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** `write`, retried with backoff while the database is unreachable, for up to OUTCOME_RETRY_MS. */
  private async writeRetrying(batch: PendingOutcome[]): Promise<void> {
    const giveUpAt = performance.now() + OUTCOME_RETRY_MS;
    // A try after a failed one may come after or during that one's commit (its answer lost on the way
    // back): the statement stores no attempt twice (see OUTCOMES_STATEMENT).
    for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, OUTCOME_RETRY_MAX_DELAY_MS)) {
      try {
        return await this.write(batch);
      } catch (error) {
        if (!isDatabaseUnavailable(error) || !this.retrying || performance.now() + delayMs > giveUpAt) {
          throw error;
        }
      }
      await sleep(delayMs);
    }
  }

  /** Stores a batch in one statement and settles each outcome with its follow-up; throws if not stored. */
  private async write(batch: PendingOutcome[]): Promise<void> {
    const now = this.clock.now();
    const streaks = await this.deliveries.recordAttempts(
      this.instanceId,
      batch.map((pending) => pending.outcome),
      now,
      this.streakPauseSeconds,
    );
    for (const pending of batch) {
      pending.resolve(this.followUp(pending, streaks, now).then(() => pending.outcome.next));
    }
  }

  private async followUp(
    { delivery, result, outcome: { reportFailure } }: PendingOutcome,
    streaks: ReadonlyMap<string, Date | null>,
    now: Date,
  ): Promise<void> {
    const failingSince = streaks.get(delivery.id);
    if (failingSince === undefined) {
      // Once per endpoint per window: deleting an endpoint with a backlog ends up to 128 attempts at once.
      const admitted = this.unmovedLog.admit(delivery.endpointId);
      if (admitted) {
        this.logger.warn(
          { deliveryId: delivery.id, endpointId: delivery.endpointId, ...admitted },
          'delivery not moved by its attempt: deleted with its endpoint, its lease lapsed (it is due again), or moved by an earlier write whose answer was lost',
        );
      }
      return;
    }
    if (result.status === 410) {
      await this.disable(delivery, disableReason({ gone: true }), now);
    } else if (failingSince && now.getTime() - failingSince.getTime() >= SUSTAINED_FAILURE_MS) {
      await this.disable(
        delivery,
        disableReason({ failingSince }),
        now,
        reportFailure ? delivery.id : undefined,
      );
    } else if (reportFailure) {
      await this.report(
        deliveryFailingEvent(
          {
            id: delivery.id,
            endpointId: delivery.endpointId,
            url: delivery.url,
            eventId: delivery.event.id,
            eventType: delivery.event.type,
            attempts: delivery.attemptCount + 1,
          },
          { responseStatus: result.status, error: result.error },
          { at: now, now },
        ),
      );
    }
  }

  private async disable(
    delivery: ClaimedDelivery,
    reason: string,
    now: Date,
    failedDelivery?: string,
  ): Promise<void> {
    const endpoint = await this.endpoints.disable(delivery.endpointId, reason, now, failedDelivery);
    if (!endpoint) return;
    this.logger.warn({ endpointId: endpoint.id, reason }, 'endpoint disabled');
    await this.report(endpointDisabledEvent(endpoint, reason, { at: now, now }));
  }

  /** The attempt stays recorded whatever becomes of its report: recovery appends a lost one. */
  private async report(event: NewEvent): Promise<void> {
    try {
      await this.writer.append([event]);
    } catch (error) {
      this.logger.warn(
        { err: error, type: event.type, endpointId: event.sourceId },
        'health event not stored; recovery will append it',
      );
    }
  }
}
