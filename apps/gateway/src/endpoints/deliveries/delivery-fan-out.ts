import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HERALD_CONFIG, type HeraldConfig } from '../../config/herald-config.js';
import { PgListener } from '../../database/pg-listener.service.js';
import { EventWriter } from '../../events/event-writer.js';
import { DeliveryWorker } from './delivery-worker.service.js';
import { DeliveryRepository } from './delivery.repository.js';

/**
 * Queues deliveries in the event writer's own transaction, so an event and its deliveries commit
 * together or not at all. Endpoints are matched in SQL inside that transaction rather than from an
 * in-memory cache: the join reads the endpoints committed when the statement runs, so no instance can
 * match against a stale copy. With each endpoint's type prefixes tested before its regexes (see
 * MATCHES_ENDPOINT), the join costs little next to the insert even with a thousand endpoints.
 */
@Injectable()
export class DeliveryFanOut implements OnModuleInit {
  constructor(
    private readonly writer: EventWriter,
    private readonly deliveries: DeliveryRepository,
    private readonly worker: DeliveryWorker,
    private readonly listener: PgListener,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
  ) {}

  /**
   * Queued deliveries wake this instance's worker in process, and the other instances' workers (which
   * share the queue) by NOTIFY at commit, sent only while another instance listens.
   */
  onModuleInit(): void {
    const firstDelay = this.config.retrySchedule[0] ?? 0;
    this.writer.addParticipant({
      statement: (inserted, notify) => this.deliveries.fanOut(inserted, firstDelay, notify),
      notifies: () => this.listener.othersListening,
      wrote: () => this.worker.deliveriesQueued(),
    });
  }
}
