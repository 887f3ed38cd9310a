import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { ErrorCode } from '../common/errors/error-code.js';
import { problemResponses } from '../common/errors/problem-responses.js';
import { RAW_BODY_ROUTE } from '../common/raw-body-route.js';
import type { IngestRefusals } from './ingest-refusals.js';
import type { IngestService } from './ingest.service.js';

const PATH = '/v1/ingest/:sourceId/:ingestToken';

interface IngestParams {
  sourceId: string;
  ingestToken: string;
}

function webhookHeaders(request: FastifyRequest): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers))
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
}

/**
 * Provider webhook receiver, registered on Fastify itself: it is the hot path, and Nest's router,
 * guards and pipes (~8% of the gateway's busy samples under ingest load) did nothing for it (public
 * route, own token, raw body, no DTO). Errors still reach Nest's exception filter through the
 * error handler Nest installs on Fastify, so they are the same problem documents as everywhere else.
 * Providers cannot send auth headers, so the ingest token is in the path.
 */
export function registerIngestRoute(
  fastify: FastifyInstance,
  service: IngestService,
  refusals: IngestRefusals,
): void {
  fastify.post<{ Params: IngestParams }>(
    PATH,
    {
      config: { [RAW_BODY_ROUTE]: true },
      // A route hook, not the handler: it also sees what Fastify refuses before the handler runs (413).
      // Not awaited, so logging never delays the answer.
      onError: (request, _reply, error, done) => {
        void refusals.record(request.params.sourceId, error);
        done();
      },
    },
    async (request, reply) => {
      const { rawBody } = request as { rawBody?: Buffer };
      const body = rawBody ?? (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));
      const result = await service.ingest(request.params.sourceId, request.params.ingestToken, {
        headers: webhookHeaders(request),
        contentType: (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase(),
        body,
      });
      return reply.code(202).send(result);
    },
  );
}

/** The route in the OpenAPI document, which only sees Nest's controllers. */
export function documentIngestRoute(document: OpenAPIObject): void {
  const param = (name: string, description: string) => ({
    name,
    in: 'path' as const,
    required: true,
    schema: { type: 'string' as const },
    description,
  });
  document.paths['/v1/ingest/{sourceId}/{ingestToken}'] = {
    post: {
      tags: ['ingest'],
      operationId: 'IngestWebhook',
      summary: "Receives a provider's webhook for a source (its ingestUrl)",
      parameters: [
        param('sourceId', 'The source the webhook is for.'),
        param(
          'ingestToken',
          'The source’s ingest token (hing_…), in the path because providers cannot send auth headers.',
        ),
      ],
      requestBody: {
        required: true,
        description: "The provider's body, verbatim (JSON, protobuf, …); signed sources check its signature.",
        content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
      },
      responses: {
        '202': {
          description: 'The events are committed.',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  accepted: { type: 'integer' },
                  ids: { type: 'array', items: { type: 'string', format: 'uuid' } },
                },
              },
            },
          },
        },
        ...problemResponses([
          ErrorCode.InvalidBody,
          ErrorCode.InvalidJson,
          ErrorCode.EmptyBody,
          ErrorCode.Unauthorized,
          ErrorCode.MissingSignature,
          ErrorCode.InvalidSignature,
          ErrorCode.NotFound,
          ErrorCode.SourceDisabled,
          ErrorCode.PayloadTooLarge,
          ErrorCode.UnsupportedMediaType,
          ErrorCode.DatabaseUnavailable,
          ErrorCode.Internal,
        ]),
      },
    },
  };
}
