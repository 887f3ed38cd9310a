import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ApiProblemResponses } from '../../common/errors/problem-responses.js';
import { ResourceId } from '../../common/resource-id.js';
import { DeliveriesService } from './deliveries.service.js';
import { ApiPageResponse, type Page } from '../../common/pagination.js';
import { DeliveryDto, DeliveryWithAttemptsDto, ListEventDeliveriesQueryDto } from './delivery.dto.js';

@ApiTags('endpoints')
@ApiBearerAuth()
@ApiProblemResponses()
@Controller('v1/deliveries')
export class DeliveriesController {
  constructor(private readonly service: DeliveriesService) {}

  @ApiOperation({ summary: "List an event's deliveries to every endpoint" })
  @ApiProblemResponses(ErrorCode.InvalidCursor)
  @Get()
  @ApiPageResponse(
    DeliveryDto,
    'The event’s deliveries (one per matching endpoint, and any replays), newest first',
  )
  listForEvent(@Query() query: ListEventDeliveriesQueryDto): Promise<Page<DeliveryDto>> {
    return this.service.listForEvent(query);
  }

  @ApiOperation({ summary: 'Get a delivery with its attempts' })
  @Get(':id')
  @ApiOkResponse({ type: DeliveryWithAttemptsDto, description: 'The delivery and every attempt' })
  get(@ResourceId() id: string): Promise<DeliveryWithAttemptsDto> {
    return this.service.get(id);
  }

  @ApiOperation({ summary: 'Make a delivery due now' })
  @ApiProblemResponses(ErrorCode.Conflict)
  @Post(':id/retry')
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: DeliveryWithAttemptsDto,
    description:
      'Due now. A pending delivery keeps its retry schedule, only sooner; a delivered or failed one is resent once ' +
      '(one attempt, then delivered or failed again: no retries after it, no herald.delivery.failing). ' +
      '409 while an attempt is in flight or the endpoint is disabled',
  })
  retry(@ResourceId() id: string): Promise<DeliveryWithAttemptsDto> {
    return this.service.retry(id);
  }
}
