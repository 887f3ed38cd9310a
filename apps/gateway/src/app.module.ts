import { type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import type { ProviderAdapter } from '@herald/events';
import { AdaptersModule } from './adapters/adapters.module.js';
import { ApiKeysModule } from './api-keys/api-keys.module.js';
import { ClusterModule } from './cluster/cluster.module.js';
import { ApiKeyGuard } from './common/auth/api-key.guard.js';
import { JsonContentGuard } from './common/json-content.guard.js';
import { ConfigModule } from './config/config.module.js';
import type { HeraldConfig } from './config/herald-config.js';
import { DatabaseModule } from './database/database.module.js';
import { EventsModule } from './events/events.module.js';
import { IngestModule } from './ingest/ingest.module.js';
import { RetentionModule } from './retention/retention.module.js';
import { SourcesModule } from './sources/sources.module.js';
import { EndpointsModule } from './endpoints/endpoints.module.js';
import { SubscriptionsModule } from './subscriptions/subscriptions.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { serializeError } from './common/log-serializers.js';

@Module({})
export class AppModule {
  static forRoot(
    config: HeraldConfig,
    logger: Logger,
    adapters?: readonly ProviderAdapter[],
    instanceId?: string,
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, instanceId),
        AdaptersModule.forRoot(adapters),
        LoggerModule.forRoot({
          // pino-http gives the loggers Nest injects its own `err` serializer unless given this one.
          pinoHttp: {
            logger,
            autoLogging: false,
            quietReqLogger: true,
            serializers: { err: serializeError },
          },
        }),
        DatabaseModule.forRoot(config, logger),
        MetricsModule,
        ClusterModule.forRoot(config, logger),
        HealthModule,
        ApiKeysModule,
        EventsModule,
        SourcesModule,
        IngestModule,
        SubscriptionsModule,
        EndpointsModule,
        RetentionModule,
      ],
      providers: [
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_GUARD, useClass: JsonContentGuard },
      ],
    };
  }
}
