import { Controller, Get, HttpCode, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { ClusterBus, type ClusterBusStatus } from '../cluster/cluster-bus.js';
import { Public } from '../common/auth/auth.decorators.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { HeraldException } from '../common/errors/herald-exception.js';
import { problemResponses } from '../common/errors/problem-responses.js';
import { INSTANCE_ID } from '../config/herald-config.js';
import { DrainState } from './drain-state.js';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: ClusterBus,
    private readonly drain: DrainState,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
  ) {}

  /** Liveness: the process answers. */
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
      if (await this.dataSource.showMigrations()) {
        throw new HeraldException(ErrorCode.DatabaseUnavailable, 'Migrations are pending.');
      }
    } catch (error) {
      if (error instanceof HeraldException) throw error;
      throw new HeraldException(
        ErrorCode.DatabaseUnavailable,
        'The database is unreachable.',
        [],
        {},
        { cause: error },
      );
    }
    return { status: 'ready', clusterBus: this.bus.status() };
  }
}
