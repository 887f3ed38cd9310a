import { isUuid } from '../common/resource-id.js';
import { isDeepStrictEqual } from 'node:util';
import { Injectable } from '@nestjs/common';
import {
  compileFilter,
  type HeraldEvent,
  InvalidFilterError,
  isReservedType,
  PUBLISHED_PROVIDER,
  typePatternToRegex,
} from '@herald/events';
import type { Principal } from '../common/auth/scope.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { HeraldException } from '../common/errors/herald-exception.js';
import { storableJson } from '../common/storable.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, type Page, type PagedList, toPage } from '../common/pagination.js';
import { type CursorResolution, CursorResolver, cursorRefusal } from './cursor-resolver.js';
import { toEnvelope } from './event-record.js';
import { newEventId } from './new-event.js';
import type { EventWithRawDto, GetEventQueryDto, ListEventsQueryDto, PublishEventDto } from './event.dto.js';
import { EventLogReads } from './event-log-reads.js';
import { checkIdempotencyKey } from '../common/idempotency-key.js';
import { rangeBound } from '../common/instant.js';
import { EventRepository } from './event.repository.js';
import { type AppendedEvent, EventWriter } from './event-writer.js';

const TEXT_CONTENT = /^(application\/([a-z0-9.+-]*\+)?json|text\/.*)$/;

/**
 * Refused here rather than by Postgres: the writer stores concurrent publishes in one statement, which
 * such a value fails for all of them, and each is then written again alone.
 */
function refuseUnstorable(fields: Record<string, unknown>): void {
  const errors = Object.entries(fields)
    .filter(([field, value]) => value !== undefined && storableJson(value, field) !== value)
    .map(([field]) => ({ field, message: 'holds a NUL character or a lone UTF-16 surrogate' }));
  if (errors.length > 0) {
    throw HeraldException.validation('The event holds characters Postgres cannot store.', errors);
  }
}

@Injectable()
export class EventsService {
  constructor(
    private readonly repository: EventRepository,
    private readonly writer: EventWriter,
    private readonly cursors: CursorResolver,
    private readonly reads: EventLogReads,
  ) {}

  /** Stores a custom event; a repeated Idempotency-Key returns the event stored the first time. */
  async publish(principal: Principal, dto: PublishEventDto, idempotencyKey?: string): Promise<AppendedEvent> {
    if (isReservedType(dto.type)) {
      throw HeraldException.validation(
        `"${dto.type}" is in a namespace reserved for Herald and its providers.`,
        [{ field: 'type', message: 'the herald., seatable. and jellyfish. namespaces are reserved' }],
      );
    }
    checkIdempotencyKey(idempotencyKey);
    const now = new Date();
    const data = dto.data ?? {};
    refuseUnstorable({ subject: dto.subject, data });
    const [appended] = await this.writer.append([
      {
        id: newEventId(),
        type: dto.type,
        sourceId: principal.keyId,
        provider: PUBLISHED_PROVIDER,
        subject: dto.subject ?? null,
        time: dto.time ? new Date(dto.time) : now,
        receivedAt: now,
        data,
        raw: null,
        rawContentType: null,
        dedupKey: idempotencyKey ?? null,
      },
    ]);
    const result = appended!;
    if (result.duplicate && !sameRequest(result.event, dto, data)) {
      throw new HeraldException(
        ErrorCode.IdempotencyConflict,
        `Idempotency-Key "${idempotencyKey}" was already used for a different event (${result.event.id}).`,
      );
    }
    return result;
  }

  async get(id: string, query: GetEventQueryDto): Promise<EventWithRawDto> {
    const row = await this.repository.findById(id, query.include === 'raw');
    if (!row) throw HeraldException.notFound('Event', id);
    const event: EventWithRawDto = toEnvelope(row);
    if (query.include === 'raw') {
      const textual = row.raw_content_type ? TEXT_CONTENT.test(row.raw_content_type) : false;
      event.raw = row.raw ? row.raw.toString(textual ? 'utf8' : 'base64') : null;
      event.rawContentType = row.raw_content_type ?? null;
      if (row.raw) event.rawEncoding = textual ? 'utf8' : 'base64';
    }
    return event;
  }

  async list(query: ListEventsQueryDto, principal: Principal): Promise<Page<HeraldEvent>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const since = query.since ? rangeBound(query.since) : undefined;
    const until = query.until ? rangeBound(query.until) : undefined;
    if (since && until && until <= since) throw HeraldException.emptyTimeRange();
    // `after` is not among them: it may be repeated with every page, and moves the start (startAfter).
    const list = {
      kind: 'events',
      filters: {
        type: query.type && [...query.type].sort(),
        source: query.source && [...query.source].map((id) => id.toLowerCase()).sort(),
        since: since?.toISOString(),
        until: until?.toISOString(),
      },
    };
    const selection = {
      typeRegexes: this.typeRegexes(query.type),
      sourceIds: this.sourceIds(query.source),
      since,
      until,
      limit: limit + 1,
    };
    // Under the same limit as subscriptions' reads: a slow list must not take the whole pool.
    const { rows } = await this.reads.run(principal.keyId, async () => {
      const afterSeq = await this.startAfter(list, query.after, query.cursor);
      const page = await this.repository.query({ ...selection, afterSeq });
      // A purge between the cursor's check and the page would skip what it removed without a word.
      if (page.expired)
        throw refusedCursor({ kind: 'expired' }, query.cursor === undefined ? 'after' : 'cursor');
      return page;
    });
    return toPage(rows, limit, toEnvelope, (row) => row.seq, list);
  }

  /** `after` is an event id or a seq; an id must name a stored event. Refused as `field` otherwise. */
  async resolveAfter(after: string | undefined, field = 'after'): Promise<string | undefined> {
    if (after === undefined) return undefined;
    const cursor = await this.cursors.resolve(after);
    if (cursor.kind === 'ok') return String(cursor.seq);
    throw refusedCursor(cursor, field);
  }

  /**
   * The seq a page starts after. Clients repeat `after` with each page's cursor like any other filter;
   * a cursor from that query is already past it, so the later of the two is where the page starts:
   * repeating `after` changes nothing, and an `after` beyond the cursor still counts. A page's cursor
   * is a seq, checked against retention like `after`: a purge since that page would otherwise skip the
   * events it removed without a word.
   */
  private async startAfter(
    list: PagedList,
    after: string | undefined,
    cursor: string | undefined,
  ): Promise<string | undefined> {
    if (cursor === undefined) return this.resolveAfter(after);
    // A seq or an event id, checked like any `after`.
    const page = await this.cursors.resolve(decodeCursor(list, cursor, () => true));
    if (page.kind !== 'ok') throw refusedCursor(page, 'cursor');
    // The usual case, the first page's seq repeated, cannot move the page: no second lookup.
    if (after === undefined || (/^\d+$/.test(after) && BigInt(after) <= page.seq)) return String(page.seq);
    const resolved = await this.cursors.resolve(after);
    // Expired means older than every event kept, so behind any cursor that is not.
    if (resolved.kind === 'expired') return String(page.seq);
    if (resolved.kind !== 'ok') throw refusedCursor(resolved, 'after');
    return String(resolved.seq > page.seq ? resolved.seq : page.seq);
  }

  private typeRegexes(types: string[] | undefined): string[] | undefined {
    try {
      compileFilter({ types });
      return types?.map(typePatternToRegex);
    } catch (error) {
      if (!(error instanceof InvalidFilterError)) throw error;
      throw new HeraldException(ErrorCode.InvalidFilter, error.message, [
        { field: 'type', message: error.message },
      ]);
    }
  }

  private sourceIds(sources: string[] | undefined): string[] | undefined {
    const bad = sources?.filter((s) => !isUuid(s)) ?? [];
    if (bad.length > 0) {
      throw new HeraldException(ErrorCode.InvalidFilter, 'Source filters must be source ids (UUIDs).', [
        { field: 'source', message: `not a source id: ${bad.slice(0, 5).join(', ')}` },
      ]);
    }
    return sources;
  }
}

function refusedCursor(
  resolution: Exclude<CursorResolution, { kind: 'ok' }>,
  field: string,
): HeraldException {
  const { code, message } = cursorRefusal(resolution, field);
  return new HeraldException(
    code === 'cursor_expired' ? ErrorCode.CursorExpired : ErrorCode.InvalidCursor,
    `${message}.`,
    [{ field, message }],
  );
}

/**
 * Whether a repeated key comes with the request that stored `stored`. A `time` sent with the repeat must
 * be the stored one; one left out cannot be told apart from the first request's default (its receive
 * time), so it is taken as the same.
 */
function sameRequest(stored: HeraldEvent, dto: PublishEventDto, data: Record<string, unknown>): boolean {
  return (
    stored.type === dto.type &&
    (dto.time === undefined || Date.parse(dto.time) === Date.parse(stored.time)) &&
    // A JSON null subject is stored as none, like an absent one.
    (stored.subject ?? null) === (dto.subject ?? null) &&
    isDeepStrictEqual(stored.data, data)
  );
}
