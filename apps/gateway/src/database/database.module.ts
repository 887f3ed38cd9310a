import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type pg from 'pg';
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

/** SQLSTATEs of a refused connection that retrying cannot change: bad password, not allowed, no database. */
const PERMANENT_CONNECT_ERRORS = new Set(['28P01', '28000', '3D000']);

/**
 * The pool's settings. Every connection listens for its own errors from birth: the pool hands a connection
 * over from within that connection's socket read (a new one on its ReadyForQuery, a released one to the
 * next waiter), and users that await it (TypeORM's query runners, `HeldConnection`) attach their listener
 * only a promise job later. An error in the same read (Postgres dying just then) found no listener, and
 * Node turned it into an uncaught exception: Herald exited 1 before its shutdown could start. Ignoring it
 * here loses nothing: the connection is unusable from then on, so its user's query fails, and the pool
 * discards it on release.
 */
export function poolOptions(databaseUrl: string): pg.PoolConfig {
  return {
    // The pool serves API reads, the event writer and delivery workers.
    max: 20,
    connectionTimeoutMillis: 5_000,
    ...pgConnectionConfig(databaseUrl, POOL_APPLICATION_NAME),
    onConnect: (client) => {
      client.on('error', () => undefined);
    },
  };
}

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
            // A database that is not up yet is waited for (Nest's ten retries, 3 s apart); one that
            // refuses who Herald is, or has no such database, will refuse every retry too: Herald stops
            // at once and says why.
            toRetry: (error: unknown) =>
              !PERMANENT_CONNECT_ERRORS.has((error as { code?: unknown }).code as string),
            type: 'postgres',
            url: config.databaseUrl,
            entities: ENTITIES,
            migrations,
            synchronize: false,
            migrationsRun: false,
            extra: poolOptions(config.databaseUrl!),
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
