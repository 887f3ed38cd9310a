import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { Principal, Scope } from './scope.js';

export const REQUIRED_SCOPE = 'herald:required-scope';
export const PUBLIC_ROUTE = 'herald:public-route';

/** The OpenAPI extension naming what a route needs (see `documentScopes`). */
export const SCOPE_EXTENSION = 'x-herald-scope';
/** `SCOPE_EXTENSION`'s value on routes reachable without a key. */
export const NO_KEY = 'none';

/** The scope a route needs; routes without it (and not public) need `admin`. */
export const RequireScope = (scope: Scope) =>
  applyDecorators(SetMetadata(REQUIRED_SCOPE, scope), ApiExtension(SCOPE_EXTENSION, scope));

/** Nest routes reachable without an API key: probes, metrics, docs. */
export const Public = () =>
  applyDecorators(SetMetadata(PUBLIC_ROUTE, true), ApiExtension(SCOPE_EXTENSION, NO_KEY));

export const CurrentPrincipal = createParamDecorator(
  (_: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest().principal,
);
