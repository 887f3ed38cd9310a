import { ResourceId } from '../common/resource-id.js';
import { Body, Controller, Get, Headers, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { HeraldEvent } from '@herald/events';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, RequireScope } from '../common/auth/auth.decorators.js';
import type { Principal } from '../common/auth/scope.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiProblemResponses } from '../common/errors/problem-responses.js';
import { ApiPageResponse, type Page } from '../common/pagination.js';
import {
  EventDto,
  EventWithRawDto,
  GetEventQueryDto,
  ListEventsQueryDto,
  PublishEventDto,
} from './event.dto.js';
import { EventsService } from './events.service.js';

@ApiTags('events')
@ApiBearerAuth()
@ApiProblemResponses()
@Controller('v1/events')
export class EventsController {
  constructor(private readonly service: EventsService) {}

  /** 201 with the stored envelope; 200 with `idempotent-replayed: true` when the key was seen before. */
  @ApiOperation({ summary: 'Publish a custom event' })
  @ApiProblemResponses(ErrorCode.IdempotencyConflict)
  @Post()
  @RequireScope('publish')
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiCreatedResponse({ type: EventDto, description: 'Stored: the envelope' })
  @ApiOkResponse({
    type: EventDto,
    description: 'The Idempotency-Key was used before: the event stored then (`idempotent-replayed: true`)',
  })
  async publish(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: PublishEventDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<HeraldEvent> {
    const { event, duplicate } = await this.service.publish(principal, dto, idempotencyKey);
    reply.code(duplicate ? 200 : 201);
    if (duplicate) reply.header('idempotent-replayed', 'true');
    return event;
  }

  @ApiOperation({ summary: 'List stored events' })
  @ApiProblemResponses(ErrorCode.InvalidFilter, ErrorCode.InvalidCursor, ErrorCode.CursorExpired)
  @Get()
  @RequireScope('subscribe')
  @ApiPageResponse(EventDto, 'Matching events in seq order')
  list(
    @Query() query: ListEventsQueryDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<Page<HeraldEvent>> {
    return this.service.list(query, principal);
  }

  @ApiOperation({ summary: 'Get an event' })
  @Get(':id')
  @RequireScope('subscribe')
  @ApiOkResponse({
    type: EventWithRawDto,
    description: 'The event; with `include=raw` its original payload too',
  })
  get(@ResourceId() id: string, @Query() query: GetEventQueryDto): Promise<EventWithRawDto> {
    return this.service.get(id, query);
  }
}
