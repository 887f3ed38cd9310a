import { Module } from '@nestjs/common';

/** The subscriber websocket: Socket.IO namespace `/events` with durable resume (contract §6). */
@Module({})
export class SubscriptionsModule {}
