import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EventsModule } from '../events/events.module.js';
import { SourceCatalog } from './source-catalog.js';
import { SourceStateEntity } from './source-state.entity.js';
import { SourceEntity } from './source.entity.js';
import { SourceRepository } from './source.repository.js';
import { SourcesController } from './sources.controller.js';
import { SourcesService } from './sources.service.js';
import { StreamSupervisor } from './stream-supervisor.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([SourceEntity, SourceStateEntity]), EventsModule],
  controllers: [SourcesController],
  providers: [SourceRepository, SourceCatalog, SourcesService, StreamSupervisor],
  exports: [SourcesService, StreamSupervisor],
})
export class SourcesModule {}
