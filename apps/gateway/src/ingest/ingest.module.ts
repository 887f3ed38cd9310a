import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module.js';
import { SourcesModule } from '../sources/sources.module.js';
import { IngestController } from './ingest.controller.js';
import { IngestService } from './ingest.service.js';

@Module({
  imports: [EventsModule, SourcesModule],
  controllers: [IngestController],
  providers: [IngestService],
})
export class IngestModule {}
