import { maskSecret } from '@herald/events';
import { HeraldException, type ProblemFieldError } from '../common/errors/herald-exception.js';

/** Headers an endpoint may add to its webhooks; each is sent with every attempt. */
export const MAX_ENDPOINT_HEADERS = 20;
const MAX_NAME_LENGTH = 100;
const MAX_VALUE_LENGTH = 4_096;

/** RFC 9110's token. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII, spaces and tabs inside: a CR or LF would end the header and start another. */
const HEADER_VALUE = /^[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?$/;

/**
 * Names Herald sets itself or that describe the connection and the body: a receiver verifies the
 * signature over what Herald sent, and a framing header of the operator's would corrupt the request.
 */
const RESERVED = new Set([
  'connection',
  'content-encoding',
  'content-length',
  'content-type',
  'expect',
  'host',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
]);
const RESERVED_PREFIXES = ['webhook-', 'proxy-', 'svix-'];

/**
 * Names whose values are credentials: an endpoint's answers mask such a value, as a source's show its
 * secrets.
 */
const SENSITIVE = /authorization|cookie|token|secret|key|password|passwd|auth|session|signature|credential/i;

export type EndpointHeaders = Record<string, string>;

function nameError(name: string): string | undefined {
  if (!HEADER_NAME.test(name) || name.length > MAX_NAME_LENGTH)
    return `must be a header name (letters, digits and !#$%&'*+-.^_\`|~, at most ${MAX_NAME_LENGTH})`;
  const lower = name.toLowerCase();
  if (RESERVED.has(lower) || RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix)))
    return 'is set by Herald or by the connection, and cannot be given';
  return undefined;
}

function valueError(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length > MAX_VALUE_LENGTH || !HEADER_VALUE.test(value))
    return `must be 1 to ${MAX_VALUE_LENGTH} visible ASCII characters (spaces inside)`;
  return undefined;
}

/**
 * `patch` applied to `current` (RFC 7396: a name set to null is removed, when `nullRemoves`), names
 * compared without case as HTTP does; a 400 naming every bad entry, or a set over MAX_ENDPOINT_HEADERS.
 */
export function mergeEndpointHeaders(
  current: EndpointHeaders,
  patch: Record<string, unknown>,
  nullRemoves: boolean,
): EndpointHeaders {
  const field = 'headers';
  const errors: ProblemFieldError[] = [];
  const merged = new Map(Object.entries(current).map(([name, value]) => [name.toLowerCase(), [name, value]]));
  const given = new Set<string>();
  for (const [name, value] of Object.entries(patch)) {
    const lower = name.toLowerCase();
    const stored = merged.get(lower)?.[1];
    const message =
      nameError(name) ??
      (given.has(lower) ? 'is given twice (header names are not case-sensitive)' : undefined) ??
      (value === null && nullRemoves ? undefined : valueError(value)) ??
      // From a client that sends back the headers it read: it would replace the value with its mask.
      (stored !== undefined && value !== stored && value === shownValue(name, stored)
        ? 'is the masked value GET shows: give the value itself, or leave it out to keep it'
        : undefined);
    given.add(lower);
    if (message) errors.push({ field: `${field}.${name}`, message });
    else if (value === null) merged.delete(lower);
    else merged.set(lower, [name, value as string]);
  }
  if (errors.length === 0 && merged.size > MAX_ENDPOINT_HEADERS)
    errors.push({ field, message: `must hold at most ${MAX_ENDPOINT_HEADERS} headers` });
  if (errors.length > 0) throw HeraldException.validation('The endpoint headers are not valid.', errors);
  return Object.fromEntries(merged.values());
}

function shownValue(name: string, value: string): string {
  return SENSITIVE.test(name) ? maskSecret(value) : value;
}

/** An endpoint's headers as its answers show them: values of credential-like names masked. */
export function shownHeaders(headers: EndpointHeaders): EndpointHeaders {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, shownValue(name, value)]));
}
