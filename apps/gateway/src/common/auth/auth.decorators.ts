import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Principal, Scope } from './scope.js';

export const REQUIRED_SCOPE = 'herald:required-scope';
export const PUBLIC_ROUTE = 'herald:public-route';

/** The scope a route needs; routes without it (and not public) need `admin`. */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);

/** Nest routes reachable without an API key: probes, metrics, docs. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

export const CurrentPrincipal = createParamDecorator(
  (_: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest().principal,
);
