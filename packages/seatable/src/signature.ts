import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-seatable-signature';
const PREFIX = 'sha256=';

/**
 * `sha256=<hex HMAC-SHA256(secret, body)>`, as dtable-events computes it since April 2022. The body
 * must be the exact bytes SeaTable sent (Python `json.dumps` output), never re-serialized JSON.
 */
export function computeSignature(secret: string, body: Uint8Array | string): string {
  return PREFIX + createHmac('sha256', secret).update(body).digest('hex');
}

/** Constant-time check of an `X-SeaTable-Signature` value against the raw body. */
export function isValidSignature(secret: string, body: Uint8Array, header: string): boolean {
  const given = header.trim();
  if (!given.toLowerCase().startsWith(PREFIX)) return false;
  const givenDigest = Buffer.from(given.slice(PREFIX.length).toLowerCase(), 'utf8');
  const expectedDigest = Buffer.from(computeSignature(secret, body).slice(PREFIX.length), 'utf8');
  // Both are hex strings of a fixed length, so comparing lengths first leaks nothing secret.
  return givenDigest.length === expectedDigest.length && timingSafeEqual(givenDigest, expectedDigest);
}
