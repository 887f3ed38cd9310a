import { Module } from '@nestjs/common';

/** Outbound webhooks: endpoints, deliveries and the delivery workers (contract §7). */
@Module({})
export class EndpointsModule {}
