import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EventsModule } from '../events/events.module.js';
import { DeliveriesController } from './deliveries/deliveries.controller.js';
import { DeliveriesService } from './deliveries/deliveries.service.js';
import { DeliveryClock } from './deliveries/delivery-clock.js';
import { DeliveryFanOut } from './deliveries/delivery-fan-out.js';
import { DeliveryOutcomes } from './deliveries/delivery-outcomes.js';
import { DeliveryRepository } from './deliveries/delivery.repository.js';
import { DeliveryWorker } from './deliveries/delivery-worker.service.js';
import { HealthEventRecovery } from './deliveries/health-event-recovery.js';
import { WebhookSender } from './deliveries/webhook-sender.js';
import { EndpointEntity } from './endpoint.entity.js';
import { EndpointRepository } from './endpoint.repository.js';
import { EndpointsController } from './endpoints.controller.js';
import { EndpointsService } from './endpoints.service.js';

/** Outbound webhooks: endpoints, deliveries and the delivery workers (contract §7). */
@Module({
  imports: [TypeOrmModule.forFeature([EndpointEntity]), EventsModule],
  controllers: [EndpointsController, DeliveriesController],
  providers: [
    EndpointRepository,
    EndpointsService,
    DeliveryRepository,
    DeliveriesService,
    DeliveryClock,
    DeliveryFanOut,
    DeliveryOutcomes,
    DeliveryWorker,
    HealthEventRecovery,
    WebhookSender,
  ],
})
export class EndpointsModule {}
