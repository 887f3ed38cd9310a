import { ResourceId } from '../common/resource-id.js';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiProblemResponses } from '../common/errors/problem-responses.js';
import { ApiPageResponse, PageQueryDto, type Page } from '../common/pagination.js';
import { RequestOrigin } from '../common/request-origin.decorator.js';
import {
  CreateSourceDto,
  RotateIngestTokenDto,
  SourceDto,
  SourceStatusDto,
  UpdateSourceDto,
} from './source.dto.js';
import { SourcesService } from './sources.service.js';

@ApiTags('sources')
@ApiBearerAuth()
@ApiProblemResponses()
@Controller('v1/sources')
export class SourcesController {
  constructor(private readonly service: SourcesService) {}

  @ApiOperation({ summary: 'Create a source' })
  @Post()
  @ApiCreatedResponse({
    type: SourceDto,
    description: 'The source; a webhook source’s full ingestUrl is shown only here and on rotation',
  })
  create(@Body() dto: CreateSourceDto, @RequestOrigin() origin: string): Promise<SourceDto> {
    return this.service.create(dto, origin);
  }

  @ApiOperation({ summary: 'List sources' })
  @ApiProblemResponses(ErrorCode.InvalidCursor)
  @Get()
  @ApiPageResponse(SourceDto, 'Sources, oldest first, secrets masked')
  list(@Query() query: PageQueryDto, @RequestOrigin() origin: string): Promise<Page<SourceDto>> {
    return this.service.list(origin, query.limit, query.cursor);
  }

  @ApiOperation({ summary: 'Get a source' })
  @Get(':id')
  @ApiOkResponse({ type: SourceDto, description: 'The source, secrets masked' })
  get(@ResourceId() id: string, @RequestOrigin() origin: string): Promise<SourceDto> {
    return this.service.get(id, origin);
  }

  @ApiOperation({ summary: 'Change a source' })
  @Patch(':id')
  @ApiOkResponse({ type: SourceDto, description: 'The source as changed' })
  update(
    @ResourceId() id: string,
    @Body() dto: UpdateSourceDto,
    @RequestOrigin() origin: string,
  ): Promise<SourceDto> {
    return this.service.update(id, dto, origin);
  }

  @ApiOperation({ summary: 'Delete a source' })
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Deleted; a stream source is stopped' })
  delete(@ResourceId() id: string): Promise<void> {
    return this.service.delete(id);
  }

  @ApiOperation({ summary: "A source's connection status" })
  @Get(':id/status')
  @ApiOkResponse({ type: SourceStatusDto, description: 'Where the source stands' })
  status(@ResourceId() id: string): Promise<SourceStatusDto> {
    return this.service.status(id);
  }

  @ApiOperation({ summary: "Rotate a webhook source's ingest URL" })
  @Post(':id/rotate-ingest-token')
  @HttpCode(200)
  @ApiOkResponse({
    type: SourceDto,
    description:
      'The source with its new full ingestUrl; the old one stops working, at once or after previousValidForSeconds',
  })
  rotateIngestToken(
    @ResourceId() id: string,
    @RequestOrigin() origin: string,
    @Body() dto?: RotateIngestTokenDto,
  ): Promise<SourceDto> {
    return this.service.rotateIngestToken(id, origin, dto ?? {});
  }

  /** Provider actions, e.g. SeaTable's `POST /v1/sources/:id/toasts {toUser, message, type}`. */
  @ApiOperation({ summary: "Run a provider action on a source (SeaTable's toasts)" })
  @ApiProblemResponses(ErrorCode.UpstreamRefused, ErrorCode.UpstreamUnreachable)
  @Post(':id/:action')
  @HttpCode(200)
  @ApiOkResponse({
    description: 'The provider’s answer to the action',
    schema: { type: 'object', additionalProperties: true },
  })
  invokeAction(
    @ResourceId() id: string,
    @Param('action') action: string,
    @Body() input: unknown,
  ): Promise<unknown> {
    return this.service.invokeAction(id, action, input);
  }
}
