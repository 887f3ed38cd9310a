import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsObject, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { IsOmittable } from '../common/omittable.js';
import { OverlapSeconds } from '../common/overlap-seconds.js';
import type { SourceMode, StreamState } from '@herald/events';

export class CreateSourceDto {
  @ApiProperty({ example: 'crm base' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({ example: 'seatable', description: 'A provider Herald has an adapter for' })
  @IsString()
  @Length(1, 50)
  provider: string;

  @ApiProperty({ enum: ['webhook', 'stream'] })
  @IsIn(['webhook', 'stream'])
  mode: SourceMode;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'Provider-specific; see the adapter README',
  })
  @IsOmittable()
  @IsObject()
  config?: Record<string, unknown>;

  @ApiPropertyOptional({ default: true })
  @IsOmittable()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: 30 * 86_400,
    description:
      'Raise herald.source.silent when a source that has sent events is quiet this many seconds (null: never)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(30 * 86_400)
  silentAfterSeconds?: number | null;
}

/**
 * Provider and mode are fixed for a source's life; everything else may change. `config` is a JSON merge
 * patch (RFC 7396) of the stored one: keys left out are kept, a key set to null is removed; a new
 * `serverUrl` needs its token given again, and a masked value as GET shows it is refused.
 */
export class UpdateSourceDto extends PartialType(
  OmitType(CreateSourceDto, ['provider', 'mode', 'enabled'] as const),
  // `null` is validated: only silentAfterSeconds gives it a meaning (its own @IsOptional says so).
  { skipNullProperties: false },
) {
  // Without the create's `default: true`, which generated clients fill in: a rename re-enabled a source.
  @ApiPropertyOptional({ description: 'Left out: unchanged' })
  @IsOmittable()
  @IsBoolean()
  enabled?: boolean;
}

export class RotateIngestTokenDto {
  @OverlapSeconds(
    'How long the old ingest URL keeps working, to give the provider the new one first (SeaTable switches a webhook off after five refusals); 0 or absent: it stops at once',
  )
  previousValidForSeconds?: number;
}

export class SourceDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty() provider: string;
  @ApiProperty({ enum: ['webhook', 'stream'] }) mode: SourceMode;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Secrets masked' }) config: Record<
    string,
    unknown
  >;
  @ApiProperty() enabled: boolean;
  @ApiProperty({ type: 'integer', nullable: true }) silentAfterSeconds: number | null;
  @ApiPropertyOptional({
    description:
      'Webhook sources: the URL to give the provider. Full only when created or rotated; masked otherwise.',
  })
  ingestUrl?: string;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class SourceStatusDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['webhook', 'stream'] }) mode: SourceMode;
  @ApiProperty({
    // null among the values too: OpenAPI 3.0 validators check an enum before `nullable`.
    enum: ['connecting', 'connected', 'backoff', 'auth_failed', 'stopped', null],
    nullable: true,
    description: 'null for a webhook source',
  })
  state: StreamState | null;
  @ApiProperty({ type: String, nullable: true }) lastError: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastEventAt: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) connectedSince: string | null;
  @ApiProperty({ type: 'integer' }) reconnects: number;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'Instance id (see /healthz) of the gateway holding the stream; null when stopped (disabled) or not held yet',
  })
  heldBy: string | null;
}
