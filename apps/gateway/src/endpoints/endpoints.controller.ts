import { Body, Controller, Delete, Get, Headers, HttpCode, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiProblemResponses } from '../common/errors/problem-responses.js';
import { ResourceId } from '../common/resource-id.js';
import { ApiPageResponse, PageQueryDto, type Page } from '../common/pagination.js';
import { DeliveriesService } from './deliveries/deliveries.service.js';
import { DeliveryDto, ListDeliveriesQueryDto } from './deliveries/delivery.dto.js';
import {
  CreateEndpointDto,
  EndpointDto,
  EndpointWithSecretDto,
  ReplayEndpointDto,
  ReplayResultDto,
  RotateSecretDto,
  UpdateEndpointDto,
} from './endpoint.dto.js';
import { EndpointsService } from './endpoints.service.js';

@ApiTags('endpoints')
@ApiBearerAuth()
@ApiProblemResponses(ErrorCode.InvalidFilter, ErrorCode.InvalidCursor)
@Controller('v1/endpoints')
export class EndpointsController {
  constructor(
    private readonly service: EndpointsService,
    private readonly deliveries: DeliveriesService,
  ) {}

  @ApiOperation({ summary: 'Register an outbound webhook endpoint' })
  @ApiProblemResponses(ErrorCode.IdempotencyConflict)
  @Post()
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Makes retries safe: a create repeated with it answers the endpoint the first one made',
  })
  @ApiCreatedResponse({
    type: EndpointWithSecretDto,
    description: 'The endpoint, with its full signing secret: shown only here and on rotation',
  })
  @ApiOkResponse({
    type: EndpointWithSecretDto,
    description: 'The Idempotency-Key was used before: the endpoint made then (`idempotent-replayed: true`)',
  })
  async create(
    @Body() dto: CreateEndpointDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<EndpointWithSecretDto> {
    const { endpoint, created } = await this.service.create(dto, idempotencyKey);
    reply.code(created ? 201 : 200);
    if (!created) reply.header('idempotent-replayed', 'true');
    return endpoint;
  }

  @ApiOperation({ summary: 'List endpoints' })
  @Get()
  @ApiPageResponse(EndpointDto, 'Endpoints, oldest first, secrets masked')
  list(@Query() query: PageQueryDto): Promise<Page<EndpointDto>> {
    return this.service.list(query.limit, query.cursor);
  }

  @ApiOperation({ summary: 'Get an endpoint' })
  @Get(':id')
  @ApiOkResponse({ type: EndpointDto, description: 'The endpoint, secret masked' })
  get(@ResourceId() id: string): Promise<EndpointDto> {
    return this.service.get(id);
  }

  @ApiOperation({ summary: 'Change an endpoint' })
  @Patch(':id')
  @ApiOkResponse({ type: EndpointDto, description: 'The endpoint as changed' })
  update(@ResourceId() id: string, @Body() dto: UpdateEndpointDto): Promise<EndpointDto> {
    return this.service.update(id, dto);
  }

  @ApiOperation({ summary: 'Delete an endpoint with its deliveries' })
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Deleted, with its deliveries' })
  delete(@ResourceId() id: string): Promise<void> {
    return this.service.delete(id);
  }

  @ApiOperation({ summary: "Rotate an endpoint's signing secret" })
  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOkResponse({
    type: EndpointWithSecretDto,
    description: 'The endpoint with its new full secret; the old one keeps signing for 24 h',
  })
  rotateSecret(@ResourceId() id: string, @Body() dto?: RotateSecretDto): Promise<EndpointWithSecretDto> {
    // Without a body the pipe hands over nothing (a rotation by curl -X POST).
    return this.service.rotateSecret(id, dto ?? {});
  }

  @ApiOperation({ summary: 'Queue stored events for an endpoint again' })
  @Post(':id/replay')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: ReplayResultDto,
    description: 'Deliveries created; they are sent in the background',
  })
  replay(@ResourceId() id: string, @Body() dto: ReplayEndpointDto): Promise<ReplayResultDto> {
    return this.service.replay(id, dto);
  }

  @ApiOperation({ summary: "List an endpoint's deliveries" })
  @Get(':id/deliveries')
  @ApiPageResponse(DeliveryDto, 'The endpoint’s deliveries, newest first')
  listDeliveries(
    @ResourceId() id: string,
    @Query() query: ListDeliveriesQueryDto,
  ): Promise<Page<DeliveryDto>> {
    return this.deliveries.listForEndpoint(id, query);
  }
}
