import { HeraldException } from './errors/herald-exception.js';

/**
 * How deep a JSON value Herald takes (an object or array inside another counts one level). The code
 * that walks values (class-transformer, `storableJson`, Postgres's jsonb input) recurses, and a body of
 * a few thousand nested brackets, well within the size limit, overflowed its stack: a 500 for what is
 * bad input. Real event payloads stay far below.
 */
export const MAX_JSON_DEPTH = 64;

/** The 400 for a `what` (the body, an event's data) nested deeper than MAX_JSON_DEPTH. */
export const tooDeep = (what: string): HeraldException =>
  HeraldException.validation(`The ${what} nests deeper than ${MAX_JSON_DEPTH} levels.`, [
    { field: what, message: `must nest at most ${MAX_JSON_DEPTH} levels deep` },
  ]);

/**
 * A number JSON.parse could only make Infinity of (`1e999999`): stored, it became null (JSON has no
 * Infinity), changing what the client sent without a word.
 */
const tooLarge = (what: string): HeraldException =>
  HeraldException.validation(`The ${what} holds a number too large for a 64-bit float.`, [
    { field: what, message: 'must hold numbers a 64-bit float can represent' },
  ]);

/**
 * Refuses `value` with 400 when it nests deeper than MAX_JSON_DEPTH or holds a number too large to be
 * anything but Infinity; walks it without recursion.
 */
export function assertUsableJson(value: unknown, what: string): void {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item === 'number' && !Number.isFinite(item)) throw tooLarge(what);
    if (item === null || typeof item !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) throw tooDeep(what);
    for (const child of Object.values(item)) {
      if (typeof child === 'number' && !Number.isFinite(child)) throw tooLarge(what);
      if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
    }
  }
}
