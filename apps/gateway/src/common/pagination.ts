import { createHash } from 'node:crypto';
import { applyDecorators, type Type as Class } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ErrorCode } from './errors/error-code.js';
import { HeraldException } from './errors/herald-exception.js';
import { isUuid } from './resource-id.js';

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 100;

/**
 * Digits only: `Number()` also read `1e2`, `0x10` and ` 5` as page sizes, and a repeated `limit` as
 * whatever its array became. Anything else is NaN, which IsInt refuses with a 400.
 */
const decimalDigits = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @Transform(decimalDigits)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({
    description:
      "Opaque cursor from a previous page's nextCursor, sent with the same filters as that page (other filters: 400 invalid_cursor)",
  })
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

/**
 * A list and the filters its pages were asked with. A cursor is a position in one such pair: sent with
 * other filters, or alone, it would page through another selection from a position chosen for the
 * first, skipping and mixing rows without a word, so it is refused instead.
 */
export interface PagedList {
  kind: string;
  /** Values as the query means them (normalized, so equal selections compare equal); undefined ones are left out. */
  filters?: Record<string, unknown>;
}

/** 48 bits of a hash of the filters: the cursor only has to tell one selection from another. */
const filterTag = (filters: Record<string, unknown> = {}): string =>
  createHash('sha256').update(JSON.stringify(filters)).digest('base64url').slice(0, 8);

/**
 * Cursors are opaque to clients: base64url JSON of the list's kind (so one list's cursor fails on
 * another), the position, and the filters' tag.
 */
export function encodeCursor(list: PagedList, position: string): string {
  return Buffer.from(JSON.stringify([list.kind, position, filterTag(list.filters)])).toString('base64url');
}

const unrecognised = () =>
  new HeraldException(ErrorCode.InvalidCursor, 'The cursor is not one this list returned.', [
    { field: 'cursor', message: 'unrecognised cursor' },
  ]);

/**
 * The position inside a cursor of `list`. `isPosition` checks what a crafted cursor could put there (by
 * default an id), so it fails here as `invalid_cursor` rather than in the query. Cursors made before
 * they carried a filter tag (two elements) are taken as they are.
 */
export function decodeCursor(
  list: PagedList,
  cursor: string,
  isPosition: (position: string) => boolean = isUuid,
): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw unrecognised();
  }
  if (
    !Array.isArray(parsed) ||
    parsed[0] !== list.kind ||
    typeof parsed[1] !== 'string' ||
    !isPosition(parsed[1]) ||
    (parsed.length !== 2 && parsed.length !== 3)
  ) {
    throw unrecognised();
  }
  if (parsed.length === 3 && parsed[2] !== filterTag(list.filters)) {
    const names = Object.keys(list.filters ?? {});
    throw new HeraldException(
      ErrorCode.InvalidCursor,
      `The cursor belongs to a page asked with other filters: send it with the same ${names.join(', ')} ` +
        'as that page, or start again without a cursor.',
      [{ field: 'cursor', message: 'from a page with other filters' }],
    );
  }
  return parsed[1];
}

/** Builds a page from `limit + 1` fetched rows: the extra row only says whether more exist. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
  position: (row: R) => string,
  list: PagedList,
): Page<T> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(map), nextCursor: hasMore && last ? encodeCursor(list, position(last)) : null };
}
