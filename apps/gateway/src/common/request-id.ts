import type { IncomingMessage } from 'node:http';
import { v7 as uuidv7 } from 'uuid';

/** The request's id, taken from a client or proxy that sent one and echoed on every answer. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller's id may be: it goes into every log line of the request, and into the answer. */
const ACCEPTED_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id a request is logged under: the caller's `x-request-id` when it is a plain token, so a line of
 * Herald's matches the caller's and a proxy's; otherwise a new UUIDv7. Fastify's own ids (`req-1`,
 * `req-2`…) start over with each process and repeat across replicas, so an answer could not be matched
 * to its log line.
 */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && ACCEPTED_ID.test(given) ? given : uuidv7();
}
