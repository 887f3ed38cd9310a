import { createHash } from 'node:crypto';

/**
 * A base's uuid in one form, 32 lower-case hex digits: webhooks send it so, the token exchange (and so
 * the socket's ops) with dashes. Every event's data and every dedup key carry this form, so one base's
 * events correlate whichever way they came; the socket is still addressed with the form SeaTable gave.
 */
export function canonicalUuid(dtableUuid: string): string {
  return dtableUuid.replaceAll('-', '').toLowerCase();
}

/** 96 bits of SHA-256: a key part of fixed length, however large the body. */
export function bodyDigest(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('base64url').slice(0, 16);
}
