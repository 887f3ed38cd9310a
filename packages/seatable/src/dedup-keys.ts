import { createHash } from 'node:crypto';

/** Docs and endpoints disagree on dashes in the uuid; correlation keys use one form. */
export function baseKey(dtableUuid: string): string {
  return dtableUuid.replaceAll('-', '').toLowerCase();
}

/** 96 bits of SHA-256: a key part of fixed length, however large the body. */
export function bodyDigest(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('base64url').slice(0, 16);
}
