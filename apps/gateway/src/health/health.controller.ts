import { Controller, Get, HttpCode, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { Public } from '../common/auth/auth.decorators.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { HeraldException } from '../common/errors/herald-exception.js';
import { INSTANCE_ID } from '../config/herald-config.js';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  @HttpCode(200)
  live(): { status: 'ok'; instance: string } {
    return { status: 'ok', instance: this.instanceId };
  }

  /** Readiness: the database answers and no migration is pending. */
  @Get('readyz')
  async ready(): Promise<{ status: 'ready' }> {
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
    return { status: 'ready' };
  }
}
