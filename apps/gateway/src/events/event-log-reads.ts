import { Injectable } from '@nestjs/common';
import { ConcurrencyLimit } from '../common/concurrency-limit.js';

/**
 * Reads of the event log on behalf of API keys running at once on this instance: REST lists, and
 * subscriptions' cursor lookups and replay pages. The rest wait their turn, taken by API key in turn.
 * Unbounded, one subscribe-only key took every pooled connection, with 300 sockets of 100 replaying
 * subscriptions or with two dozen slow list requests: publishes answered 503 and delivery leases
 * lapsed. The pool (20) keeps the rest for ingest, deliveries and the admin API.
 */
export const EVENT_LOG_READS = 4;

@Injectable()
export class EventLogReads {
  private readonly limit = new ConcurrencyLimit(EVENT_LOG_READS);

  run<T>(keyId: string, read: () => Promise<T>): Promise<T> {
    return this.limit.run(keyId, read);
  }
}
