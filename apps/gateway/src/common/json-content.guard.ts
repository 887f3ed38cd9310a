import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ErrorCode } from './errors/error-code.js';
import { HeraldException } from './errors/herald-exception.js';

const JSON_CONTENT_TYPE = /^application\/json\s*(;|$)/i;

/** No body, as each parser gives it: `curl -d ''` sends an empty form, which parses to `{}`. */
const isEmpty = (body: unknown): boolean =>
  body === undefined ||
  body === '' ||
  (Buffer.isBuffer(body)
    ? body.length === 0
    : typeof body === 'object' && body !== null && Object.keys(body).length === 0);

/**
 * The body parsers accept every content type (provider webhooks, a Fastify route of their own, need raw
 * bytes), so Nest's routes, all JSON, refuse other types here, before validation would report a
 * confusing shape error.
 */
@Injectable()
export class JsonContentGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const { body, headers } = context.switchToHttp().getRequest<FastifyRequest>();
    // Form and text bodies are parsed too (into objects and strings): only a JSON one is taken here.
    if (!isEmpty(body) && !JSON_CONTENT_TYPE.test(headers['content-type'] ?? '')) {
      throw new HeraldException(ErrorCode.UnsupportedMediaType, 'Send this request as application/json.');
    }
    // Valid JSON of the wrong kind (`"x"`, `42`, `null`): every body Herald takes is an object.
    if (body !== undefined && (typeof body !== 'object' || body === null)) {
      throw HeraldException.validation('The request body must be a JSON object.', [
        { field: 'body', message: 'must be a JSON object' },
      ]);
    }
    return true;
  }
}
