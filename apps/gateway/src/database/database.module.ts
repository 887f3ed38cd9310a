import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ApiKeyEntity } from '../api-keys/api-key.entity.js';
import { SourceStateEntity } from '../sources/source-state.entity.js';
import { SourceEntity } from '../sources/source.entity.js';
import { EndpointEntity } from '../endpoints/endpoint.entity.js';
import type { HeraldConfig } from '../config/herald-config.js';
import { migrate } from './migrate.js';
import { pgConnectionConfig } from './pg-connection.js';
import { PgListener } from './pg-listener.service.js';
import { migrations } from './migrations/index.js';

/** How the pool's connections name themselves (`pg_stat_activity`). */
export const POOL_APPLICATION_NAME = 'herald';

export const ENTITIES = [ApiKeyEntity, SourceEntity, SourceStateEntity, EndpointEntity];

@Module({})
export class DatabaseModule {
  static forRoot(config: HeraldConfig, logger: Logger): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      providers: [PgListener],
      exports: [PgListener],
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({
            type: 'postgres',
            url: config.databaseUrl,
            entities: ENTITIES,
            migrations,
            synchronize: false,
            migrationsRun: false,
            // The pool serves API reads, the event writer and (later) delivery workers.
            extra: {
              max: 20,
              connectionTimeoutMillis: 5_000,
              ...pgConnectionConfig(config.databaseUrl!, POOL_APPLICATION_NAME),
            },
          }),
          dataSourceFactory: async (options) => {
            const dataSource = await new DataSource(options!).initialize();
            await migrate(dataSource, logger);
            return dataSource;
          },
        }),
      ],
    };
  }
}
