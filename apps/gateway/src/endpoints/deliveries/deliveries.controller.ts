import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ResourceId } from '../../common/resource-id.js';
import { DeliveriesService } from './deliveries.service.js';
import type { DeliveryWithAttemptsDto } from './delivery.dto.js';

@ApiTags('endpoints')
@ApiBearerAuth()
@Controller('v1/deliveries')
export class DeliveriesController {
  constructor(private readonly service: DeliveriesService) {}

  @Get(':id')
  get(@ResourceId() id: string): Promise<DeliveryWithAttemptsDto> {
    return this.service.get(id);
  }

  @Post(':id/retry')
  @HttpCode(202)
  retry(@ResourceId() id: string): Promise<DeliveryWithAttemptsDto> {
    return this.service.retry(id);
  }
}
