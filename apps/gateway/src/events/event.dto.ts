import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { type HeraldEvent, MAX_TYPE_LENGTH } from '@herald/events';
import { IsInstant } from '../common/instant.js';
import { PageQueryDto } from '../common/pagination.js';

const splitList = ({ value }: { value: unknown }): unknown => {
  const values = Array.isArray(value) ? value : [value];
  return values
    .flatMap((v) => (typeof v === 'string' ? v.split(',') : [v]))
    .map((v) => (typeof v === 'string' ? v.trim() : v));
};

export class PublishEventDto {
  @ApiProperty({
    example: 'billing.invoice.paid',
    description: 'Dot-separated lowercase segments; provider and herald namespaces are reserved',
  })
  @IsString()
  @MaxLength(MAX_TYPE_LENGTH)
  @Matches(/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/, {
    message: 'type must be dot-separated segments of a-z, 0-9, _ or -',
  })
  type: string;

  @ApiPropertyOptional({ example: 'invoices/in_123', minLength: 1 })
  @IsOptional()
  @IsString()
  // CloudEvents: a subject, when present, is not empty (leave it out instead).
  @MinLength(1, { message: 'subject must not be empty; leave it out instead' })
  @MaxLength(1_000)
  subject?: string;

  @ApiPropertyOptional({ description: 'When it happened; defaults to the time Herald received it' })
  @IsOptional()
  @IsInstant()
  time?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}

export class ListEventsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    description: 'Type patterns, comma-separated or repeated (`*` one segment, trailing `**` any rest)',
    type: [String],
  })
  @IsOptional()
  @Transform(splitList)
  @IsString({ each: true })
  type?: string[];

  @ApiPropertyOptional({ description: 'Source ids, comma-separated or repeated', type: [String] })
  @IsOptional()
  @Transform(splitList)
  @IsString({ each: true })
  source?: string[];

  @ApiPropertyOptional({
    description:
      'Only events after this event id or seq. With `cursor` the later of the two applies, so repeating ' +
      "the first page's `after` next to each `cursor` changes nothing.",
  })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  after?: string;

  @ApiPropertyOptional({
    description:
      "Only events whose `time` is at or after this instant. `time` is when the event happened at the provider (or the publisher's `time`), not when Herald received it (`receivedat`).",
  })
  @IsOptional()
  @IsInstant()
  since?: string;

  @ApiPropertyOptional({
    description:
      'Only events whose `time` (when it happened at the provider, not when Herald received it) is before this instant; must be after `since`.',
  })
  @IsOptional()
  @IsInstant()
  until?: string;
}

/** The stored CloudEvents envelope (contract §3). */
export class EventDto implements HeraldEvent {
  @ApiProperty({ enum: ['1.0'] }) specversion: '1.0';
  @ApiProperty({ format: 'uuid', description: 'UUIDv7 assigned by Herald' }) id: string;
  @ApiProperty({
    example: '1042',
    description: 'Decimal string of the gateway-wide, strictly increasing commit sequence',
  })
  seq: string;
  @ApiProperty({ example: 'seatable.row.modified' }) type: string;
  @ApiProperty({
    description:
      "`/sources/<id>` for provider events and Herald's reports on sources, `/api-keys/<id>` for published ones, `/endpoints/<id>` for Herald's reports on an endpoint (`herald.delivery.failing`, `herald.endpoint.disabled`)",
  })
  source: string;
  @ApiPropertyOptional() subject?: string;
  @ApiProperty({
    format: 'date-time',
    description: "When it happened at the provider (or the publisher's `time`), else `receivedat`",
  })
  time: string;
  @ApiProperty({ format: 'date-time', description: 'When Herald received it' }) receivedat: string;
  @ApiProperty({ enum: ['application/json'] }) datacontenttype: 'application/json';
  @ApiProperty({ example: 'seatable' }) provider: string;
  @ApiProperty() sourceid: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Normalized, camelCase, per type' })
  data: Record<string, unknown>;
}

export class EventWithRawDto extends EventDto {
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    description: "With `include=raw`: the provider's original payload, as text or base64 (see rawEncoding)",
  })
  raw?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) rawContentType?: string | null;
  @ApiPropertyOptional({ enum: ['utf8', 'base64'] }) rawEncoding?: 'utf8' | 'base64';
}

export class GetEventQueryDto {
  @ApiPropertyOptional({ enum: ['raw'], description: "`raw` adds the provider's original payload" })
  @IsOptional()
  @IsIn(['raw'])
  include?: 'raw';
}
