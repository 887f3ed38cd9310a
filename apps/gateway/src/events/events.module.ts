import { Module } from '@nestjs/common';
import { CursorResolver } from './cursor-resolver.js';
import { EventLogReads } from './event-log-reads.js';
import { EventRepository } from './event.repository.js';
import { EventWriter } from './event-writer.js';
import { EventsController } from './events.controller.js';
import { EventsService } from './events.service.js';

@Module({
  controllers: [EventsController],
  providers: [EventRepository, EventWriter, EventsService, CursorResolver, EventLogReads],
  exports: [EventRepository, EventWriter, EventsService, CursorResolver, EventLogReads],
})
export class EventsModule {}
