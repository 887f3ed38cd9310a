import { MAX_JSON_DEPTH, tooDeep } from './json-depth.js';

/**
 * Characters Postgres cannot store: NUL (text and jsonb refuse it, 22P05/22021) and lone UTF-16
 * surrogates (jsonb refuses their `\uD800` escapes; UTF-8 cannot encode them). In unicode mode the
 * surrogate range matches only halves without their partner.
 */
/* eslint-disable no-control-regex -- matching NUL is the point */
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/u;
const UNSTORABLE_ALL = /[\u0000\uD800-\uDFFF]/gu;
/* eslint-enable no-control-regex */

/** Text as Postgres can store it, each unstorable character replaced by U+FFFD. */
export const storableText = (text: string): string =>
  UNSTORABLE.test(text) ? text.replace(UNSTORABLE_ALL, '\uFFFD') : text;

/** What stands for an object or array nested deeper than MAX_JSON_DEPTH in a provider's event. */
export const CUT_TOO_DEEP = `[nested deeper than ${MAX_JSON_DEPTH} levels: see the event's raw]`;

/**
 * What becomes of an object or array nested deeper than MAX_JSON_DEPTH: `refuse` throws the 400, for
 * what a client can send again; `cut` puts CUT_TOO_DEEP in its place, for a provider's event, which
 * keeps its exact bytes in `raw` and cannot be sent again fixed.
 */
export type TooDeep = 'refuse' | 'cut';

/**
 * A JSON value as jsonb can store it: `storableText` applied to every string and object key, at any
 * depth up to MAX_JSON_DEPTH (deeper is refused or cut, by the same walk, so it never recurses
 * further). Copies only what changes, so the usual clean value comes back as the same object.
 */
export function storableJson<T>(value: T, what: string, tooDeepValues: TooDeep = 'refuse'): T {
  return storable(value, 1, { what, cut: tooDeepValues === 'cut' }) as T;
}

interface Walk {
  what: string;
  cut: boolean;
}

function storable(value: unknown, depth: number, walk: Walk): unknown {
  if (typeof value === 'string') return storableText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_JSON_DEPTH) {
    if (walk.cut) return CUT_TOO_DEEP;
    throw tooDeep(walk.what);
  }
  return Array.isArray(value)
    ? storableArray(value, depth, walk)
    : storableObject(value as Record<string, unknown>, depth, walk);
}

function storableArray(array: unknown[], depth: number, walk: Walk): unknown[] {
  let copy: unknown[] | undefined;
  array.forEach((item, i) => {
    const safe = storable(item, depth + 1, walk);
    if (safe !== item) (copy ??= [...array])[i] = safe;
  });
  return copy ?? array;
}

/** Entries are copied once a key or value changes; `Object.fromEntries` keeps a `__proto__` key as data. */
function storableObject(object: Record<string, unknown>, depth: number, walk: Walk): Record<string, unknown> {
  const keys = Object.keys(object);
  let entries: Array<[string, unknown]> | undefined;
  keys.forEach((key, i) => {
    const item = object[key];
    const safeKey = storableText(key);
    const safe = storable(item, depth + 1, walk);
    if (!entries && (safeKey !== key || safe !== item)) entries = keys.slice(0, i).map((k) => [k, object[k]]);
    entries?.push([safeKey, safe]);
  });
  return entries ? Object.fromEntries(entries) : object;
}
