import { Module } from '@nestjs/common';
import { EventRepository } from './event.repository.js';
import { EventWriter } from './event-writer.js';
import { EventsController } from './events.controller.js';
import { EventsService } from './events.service.js';

@Module({
  controllers: [EventsController],
  providers: [EventRepository, EventWriter, EventsService],
  exports: [EventRepository, EventWriter, EventsService],
})
export class EventsModule {}
