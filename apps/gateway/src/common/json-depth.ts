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

/** Refuses `value` with 400 when it nests deeper than MAX_JSON_DEPTH; walks it without recursion. */
export function assertJsonDepth(value: unknown, what: string): void {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) throw tooDeep(what);
    for (const child of Object.values(item)) {
      if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
    }
  }
}
