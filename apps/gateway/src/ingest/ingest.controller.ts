import { Controller, HttpCode, Param, Post, type RawBodyRequest, Req } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AcceptsRawBody, Public } from '../common/auth/auth.decorators.js';
import { type IngestResult, IngestService } from './ingest.service.js';

function webhookHeaders(request: FastifyRequest): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers))
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
}

/** Provider webhook receiver. Providers cannot send auth headers, so the ingest token is in the path. */
@ApiTags('ingest')
@Public()
@Controller('v1/ingest')
export class IngestController {
  constructor(private readonly service: IngestService) {}

  @Post(':sourceId/:ingestToken')
  @AcceptsRawBody()
  @HttpCode(202)
  ingest(
    @Param('sourceId') sourceId: string,
    @Param('ingestToken') token: string,
    @Req() request: RawBodyRequest<FastifyRequest>,
  ): Promise<IngestResult> {
    const body = request.rawBody ?? (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));
    return this.service.ingest(sourceId, token, {
      headers: webhookHeaders(request),
      contentType: (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase(),
      body,
    });
  }
}
