import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HERALD_CONFIG, type HeraldConfig } from '../../config/herald-config.js';
import { EventWriter } from '../../events/event-writer.js';
import { DeliveryRepository } from './delivery.repository.js';

/**
 * Queues deliveries in the event writer's own transaction, so an event and its deliveries commit
 * together or not at all. Endpoints are matched in SQL inside that transaction rather than from an
 * in-memory cache: the join reads the endpoints committed when the statement runs, so no instance can
 * match against a stale copy, and the endpoints table is small enough that the join costs little next
 * to the insert itself.
 */
@Injectable()
export class DeliveryFanOut implements OnModuleInit {
  constructor(
    private readonly writer: EventWriter,
    private readonly deliveries: DeliveryRepository,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
  ) {}

  onModuleInit(): void {
    const firstDelay = this.config.retrySchedule[0] ?? 0;
    this.writer.addParticipant((inserted) => this.deliveries.fanOut(inserted, firstDelay));
  }
}
