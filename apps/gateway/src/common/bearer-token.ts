import { hash, randomBytes } from 'node:crypto';

/**
 * Herald's own bearer secrets (API keys, ingest tokens): a readable prefix and 192+ random bits.
 * They are stored only as SHA-256 hashes; with that much entropy a fast hash is safe and lookups stay O(1).
 */
export function newToken(prefix: string, randomByteCount: number): string {
  return prefix + randomBytes(randomByteCount).toString('base64url');
}

/** One-shot `hash` rather than a `Hash` object: it runs on every ingest request. */
export function hashToken(token: string): Buffer {
  return hash('sha256', token, 'buffer');
}

/**
 * What may be shown of a token: enough to tell tokens apart, never enough to use one. Nine characters
 * of Herald's own (a fixed prefix and a few random ones); of a shorter token chosen by an operator
 * (`HERALD_ADMIN_TOKEN`, 16 characters at least), no more than a quarter.
 */
export function tokenPrefix(token: string): string {
  return token.slice(0, Math.min(9, Math.floor(token.length / 4)));
}
