import { Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { EventsModule } from '../events/events.module.js';
import { SourcesModule } from '../sources/sources.module.js';
import { IngestRefusalClock, IngestRefusals } from './ingest-refusals.js';
import { registerIngestRoute } from './ingest.route.js';
import { IngestService } from './ingest.service.js';

@Module({
  imports: [EventsModule, SourcesModule],
  providers: [IngestService, IngestRefusals, IngestRefusalClock],
})
export class IngestModule implements OnModuleInit {
  constructor(
    private readonly http: HttpAdapterHost,
    private readonly service: IngestService,
    private readonly refusals: IngestRefusals,
  ) {}

  onModuleInit(): void {
    registerIngestRoute(this.http.httpAdapter.getInstance(), this.service, this.refusals);
  }
}
