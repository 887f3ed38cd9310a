import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { WebhookRequest } from '@herald/events';
import { AdapterRegistry } from '../adapters/adapter-registry.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { HeraldException } from '../common/errors/herald-exception.js';
import { EventWriter } from '../events/event-writer.js';
import { fromNormalized } from '../events/new-event.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { SourcesService } from '../sources/sources.service.js';

export interface IngestResult {
  accepted: number;
  ids: string[];
}

/**
 * Notifications one webhook may carry. A provider batches a few (Fishjam's NotificationBatch, per room);
 * a 1 MiB batch of empty notifications made 250,000 events in one request, held the gateway for 15 s
 * and reached every subscriber and endpoint.
 */
const MAX_EVENTS_PER_WEBHOOK = 1_000;

@Injectable()
export class IngestService implements OnModuleInit {
  constructor(
    private readonly sources: SourcesService,
    private readonly adapters: AdapterRegistry,
    private readonly writer: EventWriter,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.metrics.startIngestSeries(this.adapters.providers);
  }

  /**
   * Authenticates the URL, lets the provider's adapter verify and parse the raw bytes, and answers only
   * after the events are committed. Any failure stores nothing.
   */
  async ingest(sourceId: string, token: string, request: WebhookRequest): Promise<IngestResult> {
    const source = await this.sources.authenticateIngest(sourceId, token);
    const adapter = this.adapters.get(source.provider);
    if (!adapter.webhookContentTypes.includes(request.contentType)) {
      throw new HeraldException(
        ErrorCode.UnsupportedMediaType,
        `${source.provider} webhooks are ${adapter.webhookContentTypes.join(' or ')}, not "${request.contentType || 'none'}".`,
      );
    }
    // No provider sends an empty webhook (a JSON one would not parse, an empty protobuf message sets
    // nothing): it is a probe or a broken client. Refused here, before any adapter, so every provider
    // answers it with the same code, signed or not.
    if (request.body.length === 0) {
      throw new HeraldException(
        ErrorCode.EmptyBody,
        `A ${source.provider} webhook has a body; this request has none.`,
      );
    }
    const parsed = adapter.parseWebhook(request, source.config);
    if (parsed.length > MAX_EVENTS_PER_WEBHOOK) {
      throw new HeraldException(
        ErrorCode.PayloadTooLarge,
        `This webhook carries ${parsed.length} notifications; Herald takes at most ${MAX_EVENTS_PER_WEBHOOK} per request.`,
      );
    }
    const receivedAt = new Date();
    const events = parsed.map((e) =>
      fromNormalized(e, { sourceId: source.id, provider: source.provider }, receivedAt),
    );
    const appended = await this.writer.append(events);
    // What is not accepted is counted by IngestRefusals, which also sees what never reaches here.
    this.metrics.ingestRequests.inc({ provider: source.provider, outcome: 'accepted' });
    return { accepted: appended.length, ids: appended.map((a) => a.event.id) };
  }
}
