import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { Principal, Scope } from './scope.js';

export const REQUIRED_SCOPE = 'herald:required-scope';
export const PUBLIC_ROUTE = 'herald:public-route';

/** The scope a route needs; routes without it (and not public) need `admin`. */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);

/** Routes reachable without an API key: probes, metrics, docs, provider webhooks (own token). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

export const RAW_BODY_ROUTE = 'herald:raw-body-route';

declare module 'fastify' {
  interface FastifyContextConfig {
    [RAW_BODY_ROUTE]?: boolean;
  }
}

/**
 * Routes that take provider bodies of any content type as raw bytes (every other route is JSON-only).
 * Goes on the handler: the JSON body parser runs before Nest and reads it from Fastify's route config,
 * which Nest fills per handler only.
 */
export const AcceptsRawBody = () =>
  applyDecorators(SetMetadata(RAW_BODY_ROUTE, true), RouteConfig({ [RAW_BODY_ROUTE]: true }));

export const CurrentPrincipal = createParamDecorator(
  (_: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest().principal,
);
