import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
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
  void reply.code(problem.status).headers(headers).type(PROBLEM_CONTENT_TYPE).send(problem);
}

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(exception, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>(), this.logger);
  }
}
