import { type ArgumentsHost, Catch, type ExceptionFilter, NotFoundException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { RouteMethods } from '../routing/route-methods.js';
import { ErrorCode } from './error-code.js';
import { HeraldException } from './herald-exception.js';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem.js';

/** Sends any error as problem+json; unexpected ones are logged with the request id for correlation. */
export function sendProblem(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  logger: Logger,
): void {
  const { problem, headers, unexpected } = toProblem(error);
  // The route's pattern, not the URL: an ingest URL carries its source's token.
  const route = `${request.method} ${request.routeOptions.url ?? '(no route)'}`;
  if (unexpected) logger.error({ err: error, requestId: request.id, route }, 'unexpected error');
  if (reply.sent) return;
  // The id the error was logged under (also in x-request-id), for whoever reports it.
  const body = unexpected ? { ...problem, requestId: request.id } : problem;
  void reply.code(problem.status).headers(headers).type(PROBLEM_CONTENT_TYPE).send(body);
}

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    private readonly routes: RouteMethods,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const error = routerMiss(exception, request, this.routes) ?? exception;
    sendProblem(error, request, http.getResponse<FastifyReply>(), this.logger);
  }
}

/**
 * The router's own 404 ("Cannot GET /path") repeats the URL, and an ingest URL's last segment is a
 * secret, seen by any proxy or tool that logs responses: a router miss is answered in Herald's words,
 * naming no part of the path. A path another method's route takes gets 405, naming the methods.
 */
function routerMiss(
  exception: unknown,
  request: FastifyRequest,
  routes: RouteMethods,
): HeraldException | undefined {
  if (!(exception instanceof NotFoundException) || request.routeOptions.url !== undefined) return undefined;
  const allowed = routes.allowed(request.url.split('?', 1)[0]!);
  if (allowed.length === 0 || allowed.includes(request.method)) {
    return new HeraldException(ErrorCode.NotFound, `No route takes ${request.method} on this path.`);
  }
  const allow = allowed.join(', ');
  return new HeraldException(
    ErrorCode.MethodNotAllowed,
    `${request.method} is not a method of this route; it takes ${allow}.`,
    [],
    { allow },
  );
}
