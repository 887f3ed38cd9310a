import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyService } from '../../api-keys/api-key.service.js';
import { ErrorCode } from '../errors/error-code.js';
import { HeraldException } from '../errors/herald-exception.js';
import { PUBLIC_ROUTE, REQUIRED_SCOPE } from './auth.decorators.js';
import { grants, type Scope } from './scope.js';

/** Global guard: a valid bearer key (401 otherwise) that grants the route's scope (403 otherwise). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeyService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Sockets authenticate once in the /events handshake (EventsGateway).
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const request = context.switchToHttp().getRequest();
    const header: unknown = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new HeraldException(
        ErrorCode.Unauthorized,
        'Send an API key as "Authorization: Bearer <key>".',
        [],
        {
          'www-authenticate': 'Bearer',
        },
      );
    }
    const principal = await this.apiKeys.authenticate(match[1]);
    if (!principal) {
      throw new HeraldException(ErrorCode.Unauthorized, 'The API key is unknown or revoked.', [], {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    }
    const needed = this.reflector.getAllAndOverride<Scope>(REQUIRED_SCOPE, targets) ?? 'admin';
    if (!grants(principal.scopes, needed)) {
      throw new HeraldException(ErrorCode.Forbidden, `This route needs the "${needed}" scope.`);
    }
    request.principal = principal;
    return true;
  }
}
