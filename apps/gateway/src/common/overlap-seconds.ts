import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { IsOmittable } from './omittable.js';

/** The longest a rotated credential may keep working beside its successor: a day. */
export const MAX_OVERLAP_SECONDS = 86_400;

/** How long a rotated credential (an ingest token, a signing secret) keeps working: 0 to a day, in seconds. */
export const OverlapSeconds = (description: string): PropertyDecorator =>
  applyDecorators(
    ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: MAX_OVERLAP_SECONDS, description }),
    IsOmittable(),
    IsInt(),
    Min(0),
    Max(MAX_OVERLAP_SECONDS),
  );
