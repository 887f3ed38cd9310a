import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RAW_BODY_ROUTE } from './auth/auth.decorators.js';
import { ErrorCode } from './errors/error-code.js';
import { HeraldException } from './errors/herald-exception.js';

/**
 * The body parsers accept every content type (provider webhooks need raw bytes), so the JSON API
 * routes refuse other types here, before validation would report a confusing shape error.
 */
@Injectable()
export class JsonContentGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(RAW_BODY_ROUTE, [context.getHandler(), context.getClass()]))
      return true;
    const { body } = context.switchToHttp().getRequest();
    if (Buffer.isBuffer(body) || typeof body === 'string') {
      throw new HeraldException(ErrorCode.UnsupportedMediaType, 'Send this request as application/json.');
    }
    return true;
  }
}
