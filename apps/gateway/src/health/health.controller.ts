import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { Public } from '../common/auth/auth.decorators.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { HeraldException } from '../common/errors/herald-exception.js';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(private readonly dataSource: DataSource) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
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
