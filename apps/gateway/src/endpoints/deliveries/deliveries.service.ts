import { Injectable } from '@nestjs/common';
import { ErrorCode } from '../../common/errors/error-code.js';
import { HeraldException } from '../../common/errors/herald-exception.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, type Page, toPage } from '../../common/pagination.js';
import { EventRepository } from '../../events/event.repository.js';
import { EndpointsService } from '../endpoints.service.js';
import {
  type DeliveryDto,
  type DeliveryWithAttemptsDto,
  type ListDeliveriesQueryDto,
  type ListEventDeliveriesQueryDto,
  mapAttempt,
  mapDelivery,
} from './delivery.dto.js';
import { DeliveryRepository } from './delivery.repository.js';

@Injectable()
export class DeliveriesService {
  constructor(
    private readonly repository: DeliveryRepository,
    private readonly endpoints: EndpointsService,
    private readonly events: EventRepository,
  ) {}

  async listForEndpoint(endpointId: string, query: ListDeliveriesQueryDto): Promise<Page<DeliveryDto>> {
    await this.endpoints.load(endpointId);
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    // One endpoint's list: its id is a filter like the status.
    const list = {
      kind: 'deliveries',
      filters: { endpoint: endpointId.toLowerCase(), status: query.status },
    };
    const before = query.cursor === undefined ? undefined : decodeCursor(list, query.cursor);
    const rows = await this.repository.page(endpointId, query.status, before, limit + 1);
    return toPage(rows, limit, mapDelivery, (row) => row.id, list);
  }

  /** What became of one event: its deliveries to every endpoint; a 404 when no such event is stored. */
  async listForEvent(query: ListEventDeliveriesQueryDto): Promise<Page<DeliveryDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const list = { kind: 'event-deliveries', filters: { event: query.eventId.toLowerCase() } };
    const before = query.cursor === undefined ? undefined : decodeCursor(list, query.cursor);
    const rows = await this.repository.pageOfEvent(query.eventId, before, limit + 1);
    if (rows.length === 0 && before === undefined && !(await this.events.findById(query.eventId, false))) {
      throw HeraldException.notFound('Event', query.eventId);
    }
    return toPage(rows, limit, mapDelivery, (row) => row.id, list);
  }

  async get(id: string): Promise<DeliveryWithAttemptsDto> {
    const row = await this.repository.findById(id);
    if (!row) throw HeraldException.notFound('Delivery', id);
    const attempts = await this.repository.attempts(id);
    return { ...mapDelivery(row), attempts: attempts.map(mapAttempt) };
  }

  /** Due now: a pending delivery sooner on its schedule, a settled one resent once (see `makeDue`). */
  async retry(id: string): Promise<DeliveryWithAttemptsDto> {
    const current = await this.get(id);
    const outcome = await this.repository.makeDue(id);
    if (outcome === 'gone') throw HeraldException.notFound('Delivery', id);
    if (outcome === 'endpoint_disabled') {
      throw new HeraldException(
        ErrorCode.Conflict,
        `Endpoint ${current.endpointId} of delivery ${current.id} is disabled: enable it (PATCH /v1/endpoints/${current.endpointId} with "enabled": true), then retry.`,
      );
    }
    if (outcome === 'in_flight') {
      throw new HeraldException(ErrorCode.Conflict, `Delivery ${current.id} has an attempt in flight.`);
    }
    return this.get(id);
  }
}
