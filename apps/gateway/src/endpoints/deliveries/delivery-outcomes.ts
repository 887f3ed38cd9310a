import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { HERALD_CONFIG, type HeraldConfig } from '../../config/herald-config.js';
import { EventWriter } from '../../events/event-writer.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { EndpointRepository } from '../endpoint.repository.js';
import { DeliveryClock } from './delivery-clock.js';
import { type ClaimedDelivery, type DeliveryTransition, DeliveryRepository } from './delivery.repository.js';
import {
  DELIVERY_FAILING_TYPE,
  deliveryFailingEvent,
  endpointDisabledEvent,
} from './endpoint-health-events.js';
import { nextRetryDelay, parseRetryAfter } from './retry-policy.js';
import type { SendResult } from './webhook-sender.js';

/** An endpoint whose every attempt failed for this long is disabled (contract §7). */
export const SUSTAINED_FAILURE_MS = 5 * 24 * 60 * 60 * 1000;

/** What one attempt's answer means for the delivery, the endpoint and Herald's own health events. */
@Injectable()
export class DeliveryOutcomes {
  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly endpoints: EndpointRepository,
    private readonly writer: EventWriter,
    private readonly clock: DeliveryClock,
    private readonly metrics: MetricsService,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
    @InjectPinoLogger(DeliveryOutcomes.name) private readonly logger: PinoLogger,
  ) {}

  async record(
    instanceId: string,
    delivery: ClaimedDelivery,
    result: SendResult,
    attemptedAt: Date,
  ): Promise<void> {
    const succeeded = result.status !== null && result.status >= 200 && result.status < 300;
    const gone = result.status === 410;
    const attemptsMade = delivery.attemptCount + 1;
    const retryIn =
      succeeded || gone
        ? undefined
        : nextRetryDelay(
            this.config.retrySchedule,
            attemptsMade,
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
    const now = this.clock.now();
    const recorded = await this.deliveries.recordAttempt(
      instanceId,
      delivery.id,
      {
        attemptedAt,
        responseStatus: result.status,
        responseBody: result.body,
        durationMs: result.durationMs,
        error: result.error,
      },
      next,
      now,
    );
    if (!recorded.recorded) {
      this.logger.warn({ deliveryId: delivery.id }, 'delivery lease lost before the attempt was recorded');
      return;
    }
    const { failingSince } = recorded;
    if (gone) {
      await this.disable(delivery, 'the endpoint answered 410 Gone');
    } else if (failingSince && now.getTime() - failingSince.getTime() >= SUSTAINED_FAILURE_MS) {
      await this.disable(delivery, `every attempt failed since ${failingSince.toISOString()}`);
    } else if (next.status === 'failed' && delivery.event.type !== DELIVERY_FAILING_TYPE) {
      await this.writer.append([
        deliveryFailingEvent(
          {
            id: delivery.id,
            endpointId: delivery.endpointId,
            url: delivery.url,
            eventId: delivery.event.id,
            eventType: delivery.event.type,
            attempts: attemptsMade,
          },
          { responseStatus: result.status, error: result.error },
          now,
        ),
      ]);
    }
  }

  private async disable(delivery: ClaimedDelivery, reason: string): Promise<void> {
    const endpoint = await this.endpoints.disable(delivery.endpointId, reason);
    if (!endpoint) return;
    this.logger.warn({ endpointId: endpoint.id, reason }, 'endpoint disabled');
    await this.writer.append([endpointDisabledEvent(endpoint, reason, this.clock.now())]);
  }
}
