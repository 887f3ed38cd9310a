import { type DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import type { HeraldConfig } from '../config/herald-config.js';
import { ClusterBus } from './cluster-bus.js';
import { PgClusterBus } from './pg-cluster-bus.js';
import { RedisClusterBus } from './redis-cluster-bus.js';
import { RedisConnection } from './redis-connection.js';

/** Provides the `ClusterBus`: Redis when REDIS_URL is set, Postgres NOTIFY otherwise (docs/fan-out.md). */
@Module({})
export class ClusterModule {
  static forRoot(config: HeraldConfig, logger: Logger): DynamicModule {
    const { redisUrl } = config;
    return {
      module: ClusterModule,
      global: true,
      providers: redisUrl
        ? [
            // Connected before the socket.io server exists: its adapter duplicates this client.
            { provide: RedisConnection, useFactory: () => RedisConnection.open(redisUrl, logger) },
            { provide: ClusterBus, useClass: RedisClusterBus },
          ]
        : [{ provide: ClusterBus, useClass: PgClusterBus }],
      exports: [ClusterBus],
    };
  }
}
