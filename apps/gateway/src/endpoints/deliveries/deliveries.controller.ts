import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { DeliveriesService } from './deliveries.service.js';
import type { DeliveryWithAttemptsDto } from './delivery.dto.js';

@ApiTags('endpoints')
@ApiBearerAuth()
@Controller('v1/deliveries')
export class DeliveriesController {
  constructor(private readonly service: DeliveriesService) {}

  @Get(':id')
  get(@Param('id') id: string): Promise<DeliveryWithAttemptsDto> {
    return this.service.get(id);
  }

  @Post(':id/retry')
  @HttpCode(202)
  retry(@Param('id') id: string): Promise<DeliveryWithAttemptsDto> {
    return this.service.retry(id);
  }
}
