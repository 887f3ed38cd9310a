import { Module } from '@nestjs/common';
import { ClusterBus } from './cluster-bus.js';
import { PgClusterBus } from './pg-cluster-bus.js';

/** Provides the `ClusterBus` through which gateway instances signal each other (docs/fan-out.md). */
@Module({})
export class ClusterModule {
  static forRoot() {
    return {
      module: ClusterModule,
      global: true,
      providers: [{ provide: ClusterBus, useClass: PgClusterBus }],
      exports: [ClusterBus],
    };
  }
}
