import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EventsModule } from '../events/events.module.js';
import { SilenceWatcher } from './silence-watcher.service.js';
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
  providers: [SourceRepository, SourceCatalog, SourcesService, StreamSupervisor, SilenceWatcher],
  exports: [SourcesService, StreamSupervisor, SilenceWatcher],
})
export class SourcesModule {}
