import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode } from './errors/error-code.js';
import { HeraldException } from './errors/herald-exception.js';

/** Charsets whose bytes read the same as UTF-8 (ASCII is a subset of it). */
const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);
const CHARSET_PARAMETER = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

const hasBody = (request: FastifyRequest): boolean =>
  request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;

/** What makes a body unreadable as Herald reads every body (uncompressed bytes, text as UTF-8), or null. */
function unreadable(request: FastifyRequest): HeraldException | null {
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    // RFC 7694: a 415 for a content coding names the codings the server takes.
    return new HeraldException(
      ErrorCode.UnsupportedMediaType,
      `Herald does not decode "Content-Encoding: ${encoding}"; send the body uncompressed.`,
      [{ field: 'content-encoding', message: 'must be identity or absent' }],
      { 'accept-encoding': 'identity' },
    );
  }
  const charset = CHARSET_PARAMETER.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && !UTF8_CHARSETS.has(charset)) {
    return new HeraldException(
      ErrorCode.UnsupportedMediaType,
      `Herald reads bodies as UTF-8; "charset=${charset}" is not supported.`,
      [{ field: 'content-type', message: 'charset must be utf-8 or absent' }],
    );
  }
  return null;
}

/**
 * Refuses, before any parser sees them, bodies Herald would misread: compressed ones would be refused
 * as malformed JSON or a bad signature, and a UTF-16 one read as UTF-8, stored garbled.
 */
export function refuseUnreadableBodies(fastify: FastifyInstance): void {
  fastify.addHook('preParsing', (request, _reply, payload, done) => {
    done(hasBody(request) ? unreadable(request) : null, payload);
  });
}
