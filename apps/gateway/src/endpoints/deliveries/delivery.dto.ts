import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { PageQueryDto } from '../../common/pagination.js';
import type { AttemptRow, DeliveryRow, DeliveryStatus } from './delivery.repository.js';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'delivering', 'delivered', 'failed'];

const STATUS_DESCRIPTION =
  '`pending`: waiting for its next attempt (see nextAttemptAt), or for its endpoint to be enabled again; ' +
  '`delivering`: claimed by a worker, its attempt in flight or waiting for one of the endpoint’s request slots; ' +
  '`delivered`: the endpoint answered 2xx; `failed`: the retry schedule is spent, or this attempt got 410 Gone ' +
  '(which disables the endpoint: its other deliveries stay `pending` until it is enabled again)';

export class ListDeliveriesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES, description: STATUS_DESCRIPTION })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;
}

export class ListEventDeliveriesQueryDto extends PageQueryDto {
  @ApiProperty({ format: 'uuid', description: 'The event whose deliveries to list, to every endpoint' })
  @IsUUID('all')
  eventId: string;
}

export class DeliveryAttemptDto {
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      "Where it was sent (the endpoint's URL then); null for attempts made before Herald recorded URLs",
  })
  url: string | null;
  @ApiProperty() attemptedAt: string;
  @ApiProperty({ type: 'integer', nullable: true, description: 'HTTP status; null when no answer came' })
  responseStatus: number | null;
  @ApiProperty({ type: String, nullable: true, description: 'The first 2 KiB of the response body' })
  responseBody: string | null;
  @ApiProperty({ type: 'integer' }) durationMs: number;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Why no answer came (timeout, refused target, …)',
  })
  error: string | null;
}

export class DeliveryDto {
  @ApiProperty() id: string;
  @ApiProperty() endpointId: string;
  @ApiProperty({ description: 'Also the `webhook-id` header of every attempt' }) eventId: string;
  @ApiProperty() eventSeq: string;
  @ApiProperty() eventType: string;
  @ApiProperty({ enum: DELIVERY_STATUSES, description: STATUS_DESCRIPTION }) status: DeliveryStatus;
  @ApiProperty({ type: 'integer', description: 'Attempts made so far' }) attemptCount: number;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description:
      'When a pending delivery is attempted next; null otherwise, and while its endpoint is disabled ' +
      '(enabling it makes the delivery due at this time again, or at once when it has passed)',
  })
  nextAttemptAt: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastAttemptAt: string | null;
  @ApiProperty({ type: 'integer', nullable: true }) lastResponseStatus: number | null;
  @ApiProperty({ type: String, nullable: true }) lastError: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class DeliveryWithAttemptsDto extends DeliveryDto {
  @ApiProperty({ type: [DeliveryAttemptDto], description: 'Every attempt, oldest first' })
  attempts: DeliveryAttemptDto[];
}

export function mapDelivery(row: DeliveryRow): DeliveryDto {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    eventSeq: row.event_seq,
    eventType: row.event_type,
    status: row.status,
    attemptCount: row.attempt_count,
    nextAttemptAt:
      row.status === 'pending' && row.endpoint_enabled ? (row.next_attempt_at?.toISOString() ?? null) : null,
    lastAttemptAt: row.last_attempt_at?.toISOString() ?? null,
    lastResponseStatus: row.last_response_status,
    lastError: row.last_error,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function mapAttempt(row: AttemptRow): DeliveryAttemptDto {
  return {
    url: row.url,
    attemptedAt: row.attempted_at.toISOString(),
    responseStatus: row.response_status,
    responseBody: row.response_body,
    durationMs: row.duration_ms,
    error: row.error,
  };
}
