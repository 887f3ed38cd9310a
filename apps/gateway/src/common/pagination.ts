import { applyDecorators, type Type as Class } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ErrorCode } from './errors/error-code.js';
import { HeraldException } from './errors/herald-exception.js';
import { isUuid } from './resource-id.js';

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 100;

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: "Opaque cursor from a previous page's nextCursor" })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** Documents a route answering a `Page` of `item`s. */
export const ApiPageResponse = (item: Class<unknown>, description: string) =>
  applyDecorators(
    ApiExtraModels(item),
    ApiOkResponse({
      description,
      schema: {
        type: 'object',
        required: ['data', 'nextCursor'],
        properties: {
          data: { type: 'array', items: { $ref: getSchemaPath(item) } },
          nextCursor: {
            type: 'string',
            nullable: true,
            description: 'Pass as `cursor` for the next page; null on the last page',
          },
        },
      },
    }),
  );

/** Cursors are opaque to clients: base64url JSON with a kind tag, so one list's cursor fails on another. */
export function encodeCursor(kind: string, position: string): string {
  return Buffer.from(JSON.stringify([kind, position])).toString('base64url');
}

/**
 * The position inside a cursor of list `kind`. `isPosition` checks what a crafted cursor could put
 * there (by default an id), so it fails here as `invalid_cursor` rather than in the query.
 */
export function decodeCursor(
  kind: string,
  cursor: string,
  isPosition: (position: string) => boolean = isUuid,
): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed[0] === kind &&
      typeof parsed[1] === 'string' &&
      isPosition(parsed[1])
    ) {
      return parsed[1];
    }
  } catch {
    // fall through to the one error below
  }
  throw new HeraldException(ErrorCode.InvalidCursor, 'The cursor is not one this list returned.', [
    { field: 'cursor', message: 'unrecognised cursor' },
  ]);
}

/** Builds a page from `limit + 1` fetched rows: the extra row only says whether more exist. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
  position: (row: R) => string,
  kind: string,
): Page<T> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(map), nextCursor: hasMore && last ? encodeCursor(kind, position(last)) : null };
}
