import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { MAX_FILTER_PATTERNS } from '@herald/events';
import { IsInstant } from '../common/instant.js';
import { OverlapSeconds } from '../common/overlap-seconds.js';
import { IsOmittable } from '../common/omittable.js';
import type { EndpointEntity } from './endpoint.entity.js';
import { MAX_ENDPOINT_HEADERS, shownHeaders } from './endpoint-headers.js';
import { MAX_ENDPOINT_URL_LENGTH } from './endpoint-url.js';

/** Attempts per second an endpoint may be limited to; above it, one Postgres round trip per attempt costs more than the limit saves. */
export const MAX_RATE_LIMIT = 1_000;

/** An endpoint's `rateLimit`, as creation and a change take it. */
const RateLimit = (): PropertyDecorator =>
  applyDecorators(
    ApiPropertyOptional({
      type: 'integer',
      nullable: true,
      minimum: 1,
      maximum: MAX_RATE_LIMIT,
      description:
        'Attempts per second at most to this endpoint, across every Herald instance, evenly spaced (null: no limit)',
    }),
    IsOptional(),
    IsInt(),
    Min(1),
    Max(MAX_RATE_LIMIT),
  );

export class EndpointFilterDto {
  @ApiPropertyOptional({
    type: [String],
    example: ['seatable.row.*', 'jellyfish.**'],
    description: '`*` matches one segment, a trailing `**` any rest; empty = every type',
  })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(MAX_FILTER_PATTERNS)
  @IsString({ each: true })
  types?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Source ids; empty = every source' })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(MAX_FILTER_PATTERNS)
  @IsUUID('all', { each: true })
  sources?: string[];
}

export class CreateEndpointDto {
  @ApiProperty({ example: 'https://example.com/hooks/herald', maxLength: MAX_ENDPOINT_URL_LENGTH })
  @IsString()
  url: string;

  @ApiPropertyOptional({ example: 'billing service' })
  @IsOmittable()
  @IsString()
  @MaxLength(1_000)
  description?: string;

  @ApiPropertyOptional({ type: EndpointFilterDto })
  @IsOmittable()
  @IsObject()
  @ValidateNested()
  @Type(() => EndpointFilterDto)
  filter?: EndpointFilterDto;

  @ApiPropertyOptional({ default: true })
  @IsOmittable()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ description: 'Your own `whsec_` secret (24 to 64 bytes); generated when absent' })
  @IsOmittable()
  @IsString()
  @MaxLength(200)
  secret?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { 'X-Api-Key': 'k-123', 'X-Team': 'billing' },
    description: `Headers sent with every webhook to this endpoint (at most ${MAX_ENDPOINT_HEADERS}; not Herald's own, such as webhook-*, content-type or user-agent)`,
  })
  @IsOmittable()
  @IsObject()
  headers?: Record<string, string>;

  @RateLimit()
  rateLimit?: number | null;
}

export class UpdateEndpointDto {
  @ApiPropertyOptional({ maxLength: MAX_ENDPOINT_URL_LENGTH })
  @IsOmittable()
  @IsString()
  url?: string;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MaxLength(1_000)
  description?: string;

  @ApiPropertyOptional({ type: EndpointFilterDto, description: 'Replaces the whole filter' })
  @IsOmittable()
  @IsObject()
  @ValidateNested()
  @Type(() => EndpointFilterDto)
  filter?: EndpointFilterDto;

  @ApiPropertyOptional({
    description:
      'Disabling pauses the deliveries already queued; events that arrive meanwhile are not queued (replay them). Re-enabling clears the disabled reason and resumes the paused deliveries',
  })
  @IsOmittable()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', nullable: true },
    example: { 'X-Team': 'payments', 'X-Old': null },
    description:
      'Merged into the headers (names without regard to case): a name set to null is removed, the others keep their values',
  })
  @IsOmittable()
  @IsObject()
  headers?: Record<string, string | null>;

  @RateLimit()
  rateLimit?: number | null;
}

/** The body of a rotation, which may be left out (an empty object too). */
export class RotateSecretDto {
  @ApiPropertyOptional({
    description:
      'Your own new `whsec_` secret (24 to 64 bytes); generated when absent. It must differ from the current one',
  })
  @IsOmittable()
  @IsString()
  @MaxLength(200)
  secret?: string;

  @OverlapSeconds(
    'How long the secrets before the new one keep signing (each webhook carries a signature per secret), ' +
      'so receivers can switch without a gap; 0 stops them at once (a leaked secret). Absent: 86400, a day',
  )
  previousValidForSeconds?: number;
}

export class ReplayEndpointDto {
  @ApiPropertyOptional({
    description:
      'Events whose `time` (when it happened at the provider) is at or after this instant; `since`, `after` or both',
  })
  @ValidateIf((dto: ReplayEndpointDto) => dto.after === undefined || dto.since !== undefined)
  @IsDefined({ message: 'since or after is required' })
  @IsInstant()
  since?: string;

  @ApiPropertyOptional({
    description:
      "Events after this one (its id or seq), in the log's commit order: a gap-free start, where `time` is the provider's",
  })
  @IsOmittable()
  @IsString()
  @MaxLength(100)
  after?: string;

  @ApiPropertyOptional({
    description:
      'Only events this endpoint has not been sent and is not about to be: none of their deliveries to it is delivered, pending or in flight',
  })
  @IsOmittable()
  @IsBoolean()
  missedOnly?: boolean;

  @ApiPropertyOptional({
    description:
      'Events whose `time` is before this instant (default: now with `since`, none with `after` alone)',
  })
  @IsOmittable()
  @IsInstant()
  until?: string;

  @ApiPropertyOptional({ type: [String], description: "Narrows the endpoint's own filter" })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(MAX_FILTER_PATTERNS)
  @IsString({ each: true })
  types?: string[];
}

export class EndpointDto {
  @ApiProperty() id: string;
  @ApiProperty() url: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: EndpointFilterDto }) filter: { types: string[]; sources: string[] };
  @ApiProperty() enabled: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'Why Herald disabled the endpoint, if it did' })
  disabledReason: string | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description:
      'When the current run of failed attempts began (null once an attempt succeeds): after 5 days of ' +
      'failures with no pause of a day or more, Herald disables the endpoint. A new url starts it over.',
  })
  failingSince: string | null;
  @ApiProperty({ description: 'The first characters of the signing secret' }) secretPrefix: string;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'While a rotation is in progress: when the last of the old secrets stops signing',
  })
  previousSecretExpiresAt: string | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description:
      'Headers sent with every webhook; values of names that suggest credentials (authorization, *key*, *token*, …) masked',
  })
  headers: Record<string, string>;
  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'Attempts per second at most (null: no limit)',
  })
  rateLimit: number | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class EndpointWithSecretDto extends EndpointDto {
  @ApiProperty({ description: 'The full `whsec_` signing secret; shown only in this response' })
  secret: string;
}

export class ReplayResultDto {
  @ApiProperty({ type: 'integer', description: 'How many deliveries the replay created' }) deliveries: number;
}

/**
 * `whsec_` and four characters (24 bits of the key): enough to tell two secrets apart, as a rotation
 * needs, and little of the key to every reader of the endpoint, whose logs keep the answers.
 */
const SECRET_PREFIX_LENGTH = 'whsec_'.length + 4;

export function mapEndpoint(endpoint: EndpointEntity, now = new Date()): EndpointDto {
  // Newest first: the first retired secret is the last to stop signing.
  const lastExpiry = endpoint.retiredSecrets[0]?.expiresAt;
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    filter: { types: endpoint.filterTypes, sources: endpoint.sources },
    enabled: endpoint.enabled,
    disabledReason: endpoint.disabledReason,
    failingSince: endpoint.failingSince?.toISOString() ?? null,
    secretPrefix: endpoint.secret.slice(0, SECRET_PREFIX_LENGTH),
    previousSecretExpiresAt: lastExpiry && Date.parse(lastExpiry) > now.getTime() ? lastExpiry : null,
    headers: shownHeaders(endpoint.headers),
    rateLimit: endpoint.rateLimit,
    createdAt: endpoint.createdAt.toISOString(),
    updatedAt: endpoint.updatedAt.toISOString(),
  };
}

export function mapEndpointWithSecret(endpoint: EndpointEntity): EndpointWithSecretDto {
  return { ...mapEndpoint(endpoint), secret: endpoint.secret };
}
