import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { ErrorCode } from './errors/error-code.js';
import { HeraldException } from './errors/herald-exception.js';

/**
 * The body parsers accept every content type (provider webhooks, a Fastify route of their own, need raw
 * bytes), so Nest's routes, all JSON, refuse other types here, before validation would report a
 * confusing shape error.
 */
@Injectable()
export class JsonContentGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const { body } = context.switchToHttp().getRequest();
    if (Buffer.isBuffer(body)) {
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
