import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { HeraldException } from './errors/herald-exception.js';

/**
 * The origin the request arrived on (X-Forwarded-* honoured only with HERALD_TRUST_PROXY). A Host that
 * is not a host and port (`a/b?c#d`) is refused: the ingest URLs built from it would put the source's
 * token in another path, a query or a fragment.
 */
export const RequestOrigin = createParamDecorator((_: unknown, context: ExecutionContext): string => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const origin = `${request.protocol}://${request.host}`;
  if (!isHostAndPort(request.host) || !URL.canParse(origin)) {
    throw HeraldException.validation('The Host header is not a host name or address with an optional port.', [
      { field: 'host', message: 'must be a host[:port]' },
    ]);
  }
  return origin;
});

/** Nothing that would end the authority part of a URL, or mark user info, within it. */
const isHostAndPort = (host: string): boolean => host.length > 0 && !/[/?#@\\\s]/.test(host);
