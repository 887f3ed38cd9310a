import { ResourceId } from '../common/resource-id.js';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { PageQueryDto, type Page } from '../common/pagination.js';
import { RequestOrigin } from '../common/request-origin.decorator.js';
import { CreateSourceDto, type SourceDto, type SourceStatusDto, UpdateSourceDto } from './source.dto.js';
import { SourcesService } from './sources.service.js';

@ApiTags('sources')
@ApiBearerAuth()
@Controller('v1/sources')
export class SourcesController {
  constructor(private readonly service: SourcesService) {}

  @Post()
  create(@Body() dto: CreateSourceDto, @RequestOrigin() origin: string): Promise<SourceDto> {
    return this.service.create(dto, origin);
  }

  @Get()
  list(@Query() query: PageQueryDto, @RequestOrigin() origin: string): Promise<Page<SourceDto>> {
    return this.service.list(origin, query.limit, query.cursor);
  }

  @Get(':id')
  get(@ResourceId() id: string, @RequestOrigin() origin: string): Promise<SourceDto> {
    return this.service.get(id, origin);
  }

  @Patch(':id')
  update(
    @ResourceId() id: string,
    @Body() dto: UpdateSourceDto,
    @RequestOrigin() origin: string,
  ): Promise<SourceDto> {
    return this.service.update(id, dto, origin);
  }

  @Delete(':id')
  @HttpCode(204)
  delete(@ResourceId() id: string): Promise<void> {
    return this.service.delete(id);
  }

  @Get(':id/status')
  status(@ResourceId() id: string): Promise<SourceStatusDto> {
    return this.service.status(id);
  }

  @Post(':id/rotate-ingest-token')
  @HttpCode(200)
  rotateIngestToken(@ResourceId() id: string, @RequestOrigin() origin: string): Promise<SourceDto> {
    return this.service.rotateIngestToken(id, origin);
  }

  /** Provider actions, e.g. SeaTable's `POST /v1/sources/:id/toasts {toUser, message, type}`. */
  @Post(':id/:action')
  @HttpCode(200)
  invokeAction(
    @ResourceId() id: string,
    @Param('action') action: string,
    @Body() input: unknown,
  ): Promise<unknown> {
    return this.service.invokeAction(id, action, input);
  }
}
