import { Controller, Get, HttpCode, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { ClusterBus, type ClusterBusStatus } from '../cluster/cluster-bus.js';
import { Public } from '../common/auth/auth.decorators.js';
import { DeadlinePassed, withDeadline } from '../common/deadline.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { HeraldException } from '../common/errors/herald-exception.js';
import { problemResponses } from '../common/errors/problem-responses.js';
import { INSTANCE_ID } from '../config/herald-config.js';
import { DrainState } from './drain-state.js';

/**
 * How long readiness waits for the database. A Postgres that hangs (frozen, a lock held on the migrations
 * table) rather than refusing held the probe for as long, and a probe that times out on its side tells
 * the balancer nothing: it gets a 503 that says why instead.
 */
const READY_DEADLINE_MS = 2_000;

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  private asking: Promise<boolean> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: ClusterBus,
    private readonly drain: DrainState,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
  ) {}

  /** Liveness: the process answers. */
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @Get('healthz')
  @HttpCode(200)
  @ApiOkResponse({
    description: 'The process answers (liveness; says nothing about the database).',
    schema: {
      type: 'object',
      properties: { status: { type: 'string', enum: ['ok'] }, instance: { type: 'string' } },
    },
  })
  live(): { status: 'ok'; instance: string } {
    return { status: 'ok', instance: this.instanceId };
  }

  /**
   * Readiness: not shutting down, the database answers and no migration is pending. The cluster bus is reported but does not
   * decide: with Redis (or the LISTEN connection) down, this instance still serves every event from
   * Postgres through its poll, only up to a second later, so taking it out of rotation would cost more.
   */
  @ApiOperation({ summary: 'Readiness: the database answers and no migration is pending' })
  @Get('readyz')
  @ApiOkResponse({
    description: 'Ready for traffic: the database answers and no migration is pending.',
    schema: {
      type: 'object',
      properties: {
        status: { type: 'string', enum: ['ready'] },
        clusterBus: { type: 'object', description: 'How instances signal each other (NOTIFY or Redis)' },
      },
    },
  })
  @ApiResponse({
    status: 503,
    ...problemResponses([ErrorCode.ShuttingDown, ErrorCode.DatabaseUnavailable])[503],
  })
  async ready(): Promise<{ status: 'ready'; clusterBus: ClusterBusStatus }> {
    if (this.drain.active) {
      throw new HeraldException(ErrorCode.ShuttingDown, 'This instance is shutting down.');
    }
    try {
      if (await withDeadline(this.migrationsPending(), READY_DEADLINE_MS)) {
        throw new HeraldException(ErrorCode.DatabaseUnavailable, 'Migrations are pending.');
      }
    } catch (error) {
      if (error instanceof HeraldException) throw error;
      throw new HeraldException(
        ErrorCode.DatabaseUnavailable,
        error instanceof DeadlinePassed
          ? `The database did not answer within ${READY_DEADLINE_MS / 1000} s.`
          : 'The database is unreachable.',
        [],
        {},
        { cause: error },
      );
    }
    return { status: 'ready', clusterBus: this.bus.status() };
  }

  /**
   * One question to the database at a time: a probe that gives up on a hanging one leaves it running on
   * its pooled connection, and a probe every few seconds asking afresh would take the whole pool.
   */
  private migrationsPending(): Promise<boolean> {
    this.asking ??= this.askMigrationsPending().finally(() => (this.asking = undefined));
    return this.asking;
  }

  /**
   * Asked with a pooled query, which gives its connection back whatever the answer: TypeORM's
   * `showMigrations` keeps it when its query fails (a statement timeout, a restart), one lost per failure.
   */
  private async askMigrationsPending(): Promise<boolean> {
    const applied: Array<{ name: string }> = await this.dataSource.query('SELECT name FROM migrations');
    const names = new Set(applied.map((row) => row.name));
    return this.dataSource.migrations.some((migration) => !names.has(migration.name!));
  }
}
