import { isUuid } from '../common/resource-id.js';
import { type SocketError, type SubscribeRequest, typePatternError } from '@herald/events';

const SEQ = /^\d{1,18}$/;
const MAX_LIST = 100;

export type ParsedSubscribe = { ok: true; request: SubscribeRequest } | { ok: false; error: SocketError };

function stringList(value: unknown, name: string): string[] | SocketError | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string') || value.length > MAX_LIST) {
    return { code: 'invalid_filter', message: `${name} must be an array of at most ${MAX_LIST} strings` };
  }
  return value as string[];
}

/** Validates a `subscribe` payload from an untrusted socket; never throws. */
export function parseSubscribe(payload: unknown): ParsedSubscribe {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return {
      ok: false,
      error: { code: 'invalid_request', message: 'subscribe takes an object {types?, sources?, after?}' },
    };
  }
  const { types, sources, after, ...rest } = payload as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    return {
      ok: false,
      error: { code: 'invalid_request', message: `unknown field(s): ${unknown.join(', ')}` },
    };
  }
  const typeList = stringList(types, 'types');
  if (typeList && !Array.isArray(typeList)) return { ok: false, error: typeList };
  const sourceList = stringList(sources, 'sources');
  if (sourceList && !Array.isArray(sourceList)) return { ok: false, error: sourceList };
  for (const pattern of typeList ?? []) {
    const problem = typePatternError(pattern);
    if (problem) return { ok: false, error: { code: 'invalid_filter', message: problem } };
  }
  const badSource = sourceList?.find((s) => !isUuid(s));
  if (badSource !== undefined) {
    return {
      ok: false,
      error: { code: 'invalid_filter', message: `not a source id: ${JSON.stringify(badSource)}` },
    };
  }
  // A seq is a decimal string (a bigint), but JSON clients hold it as a number as readily.
  const cursor =
    typeof after === 'number' && Number.isSafeInteger(after) && after >= 0 ? String(after) : after;
  if (
    cursor !== undefined &&
    cursor !== null &&
    (typeof cursor !== 'string' || !(SEQ.test(cursor) || isUuid(cursor)))
  ) {
    return {
      ok: false,
      error: {
        code: 'invalid_cursor',
        message: 'after must be an event id or a seq (a decimal string, or a non-negative integer)',
      },
    };
  }
  return {
    ok: true,
    request: {
      types: typeList,
      // Matched as strings against events' `sourceid`, which Postgres always spells in lower case.
      sources: sourceList?.map((source) => source.toLowerCase()),
      after: cursor ?? undefined,
    },
  };
}
