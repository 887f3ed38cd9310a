import { Injectable } from '@nestjs/common';
import { ConcurrencyLimit } from '../common/concurrency-limit.js';

/**
 * Reads of the event log on behalf of API keys running at once on this instance: REST lists and
 * subscriptions' replay pages. The rest wait their turn, taken by API key in turn. Unbounded, one
 * subscribe-only key took every pooled connection, with 300 sockets of 100 replaying subscriptions or
 * with two dozen slow list requests: publishes answered 503 and delivery leases lapsed. The pool (20)
 * keeps the rest for ingest, deliveries and the admin API.
 */
export const EVENT_LOG_READS = 4;
/**
 * Cursor lookups, which a subscribe's answer waits for, run beside those reads under a limit of their
 * own: behind the replay pages of the same key, 3,000 clients resubscribing after a restart waited 5 to
 * 28 s for their answers, and their SDK gave up on them at 10 s. A lookup is one index read.
 */
export const CURSOR_LOOKUPS = 2;

@Injectable()
export class EventLogReads {
  private readonly limit = new ConcurrencyLimit(EVENT_LOG_READS);
  private readonly lookups = new ConcurrencyLimit(CURSOR_LOOKUPS);

  run<T>(keyId: string, read: () => Promise<T>): Promise<T> {
    return this.limit.run(keyId, read);
  }

  /** A cursor lookup for a subscribe (see CURSOR_LOOKUPS). */
  lookUp<T>(keyId: string, lookup: () => Promise<T>): Promise<T> {
    return this.lookups.run(keyId, lookup);
  }
}
