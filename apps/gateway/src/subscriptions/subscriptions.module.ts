import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module.js';
import { EventsModule } from '../events/events.module.js';
import { EventLogTail } from './event-log-tail.service.js';
import { EventsGateway } from './events.gateway.js';
import { RevokedKeySweep } from './revoked-key-sweep.service.js';
import { SubscriptionHub } from './subscription-hub.service.js';

/** The subscriber websocket: Socket.IO namespace `/events` with durable resume (contract §6). */
@Module({
  imports: [EventsModule, ApiKeysModule],
  providers: [EventLogTail, SubscriptionHub, EventsGateway, RevokedKeySweep],
})
export class SubscriptionsModule {}
