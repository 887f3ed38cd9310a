import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ResourceId } from '../common/resource-id.js';
import { PageQueryDto, type Page } from '../common/pagination.js';
import { DeliveriesService } from './deliveries/deliveries.service.js';
import { type DeliveryDto, ListDeliveriesQueryDto } from './deliveries/delivery.dto.js';
import {
  CreateEndpointDto,
  type EndpointDto,
  type EndpointWithSecretDto,
  ReplayEndpointDto,
  type ReplayResultDto,
  UpdateEndpointDto,
} from './endpoint.dto.js';
import { EndpointsService } from './endpoints.service.js';

@ApiTags('endpoints')
@ApiBearerAuth()
@Controller('v1/endpoints')
export class EndpointsController {
  constructor(
    private readonly service: EndpointsService,
    private readonly deliveries: DeliveriesService,
  ) {}

  @Post()
  create(@Body() dto: CreateEndpointDto): Promise<EndpointWithSecretDto> {
    return this.service.create(dto);
  }

  @Get()
  list(@Query() query: PageQueryDto): Promise<Page<EndpointDto>> {
    return this.service.list(query.limit, query.cursor);
  }

  @Get(':id')
  get(@ResourceId() id: string): Promise<EndpointDto> {
    return this.service.get(id);
  }

  @Patch(':id')
  update(@ResourceId() id: string, @Body() dto: UpdateEndpointDto): Promise<EndpointDto> {
    return this.service.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  delete(@ResourceId() id: string): Promise<void> {
    return this.service.delete(id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  rotateSecret(@ResourceId() id: string): Promise<EndpointWithSecretDto> {
    return this.service.rotateSecret(id);
  }

  @Post(':id/replay')
  @HttpCode(202)
  replay(@ResourceId() id: string, @Body() dto: ReplayEndpointDto): Promise<ReplayResultDto> {
    return this.service.replay(id, dto);
  }

  @Get(':id/deliveries')
  listDeliveries(
    @ResourceId() id: string,
    @Query() query: ListDeliveriesQueryDto,
  ): Promise<Page<DeliveryDto>> {
    return this.deliveries.listForEndpoint(id, query);
  }
}
