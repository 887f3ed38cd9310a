import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { withDeadline } from '../common/deadline.js';
import { HERALD_CONFIG, type HeraldConfig } from '../config/herald-config.js';

/**
 * Label values known in advance, whose series are exported from the start at zero: a series that first
 * appears at its first increment hides that increment from `rate()` and `increase()`.
 */
export const DELIVERY_OUTCOMES = ['delivered', 'rejected', 'error'] as const;
export const INGEST_OUTCOMES = ['accepted', 'refused', 'failed'] as const;
export const CLUSTER_SIGNALS = ['events_committed', 'api_key_revoked'] as const;
export const STREAM_EVENT_OUTCOMES = ['stored', 'failed'] as const;
export const SETTLED_STATUSES = ['delivered', 'failed'] as const;
/**
 * Why subscriber sockets ended: the client left (`client`: it disconnected; `transport_close`: its
 * connection closed), it stopped answering (`ping_timeout`) or broke (`transport_error`), or Herald cut
 * it off (`slow_consumer`, `cursor_expired`, `shutting_down`; `server` for anything else of Herald's,
 * such as a revoked key).
 */
export const SOCKET_DISCONNECT_REASONS = [
  'client',
  'transport_close',
  'ping_timeout',
  'transport_error',
  'slow_consumer',
  'cursor_expired',
  'shutting_down',
  'server',
  'other',
] as const;
export type SocketDisconnectReason = (typeof SOCKET_DISCONNECT_REASONS)[number];
/** What an ingest request for a source that does not exist is counted under, for lack of a provider. */
export const UNKNOWN_PROVIDER = 'unknown';
/** How long a scrape waits for the pending count; well under a Prometheus scrape timeout (10 s). */
const PENDING_COUNT_DEADLINE_MS = 1_000;

/** Every Prometheus figure Herald exports, on a registry of its own (tests run several apps per process). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly eventsStored = new Counter({
    name: 'herald_events_stored_total',
    help: 'Events committed to the event log',
    registers: [this.registry],
  });

  readonly ingestRequests = new Counter({
    name: 'herald_ingest_requests_total',
    help: 'Provider webhook requests by provider and outcome (accepted; refused: 4xx; failed: 5xx)',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly writeBatchSeconds = new Histogram({
    name: 'herald_event_write_batch_seconds',
    help: 'Time to commit one group-commit batch of events',
    // Up to 30 s: a write that waits for a lock or a slow disk is the incident to see, not +Inf.
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly socketConnections = new Gauge({
    name: 'herald_socket_connections',
    help: 'Connected subscriber sockets on this instance',
    registers: [this.registry],
  });

  readonly socketDisconnects = new Counter({
    name: 'herald_socket_disconnects_total',
    help: `Subscriber sockets ended, by reason: ${SOCKET_DISCONNECT_REASONS.join(', ')}`,
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly clusterSignals = new Counter({
    name: 'herald_cluster_signals_received_total',
    help: 'Signals from gateway instances (events committed, API key revoked) by transport: postgres (NOTIFY) or redis',
    labelNames: ['signal', 'transport'] as const,
    registers: [this.registry],
  });

  readonly streamEvents = new Counter({
    name: 'herald_stream_events_total',
    help: 'Events received from stream sources, by provider and outcome (stored; failed: the store refused them, lost)',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly sourceStates = new Gauge({
    name: 'herald_stream_sources',
    help: 'Stream sources held by this instance, by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly deliveryAttempts = new Counter({
    name: 'herald_delivery_attempts_total',
    help: 'Webhook delivery attempts by outcome: delivered (2xx), rejected (other status), error (no answer)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly deliveriesSettled = new Counter({
    name: 'herald_deliveries_settled_total',
    help: 'Deliveries whose last attempt was made on this instance, by how they ended: delivered, or failed (given up, or a 410)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly deliveryAttemptSeconds = new Histogram({
    name: 'herald_delivery_attempt_seconds',
    help: 'Duration of one webhook delivery attempt',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    registers: [this.registry],
  });

  readonly httpRequests = new Counter({
    name: 'herald_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern (unmatched: no route took the path) and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpRequestSeconds = new Histogram({
    name: 'herald_http_request_duration_seconds',
    help: 'Time from a request to its answer, by method and route pattern (an ingest answers once its events are committed)',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  /** Counts pending deliveries for a scrape (see `countPendingWith`); none until the worker says how. */
  private countPending: (() => Promise<number>) | undefined;

  readonly deliveriesPending = new Gauge({
    name: 'herald_deliveries_pending',
    help: 'Deliveries waiting for an attempt (whole cluster, counted at most every 15 s, when scraped)',
    registers: [this.registry],
    collect: async () => {
      // A count that fails or hangs (the database away or frozen) leaves the last one: the scrape itself
      // must answer, or every other figure goes missing for as long as the database incident lasts.
      const counting = this.countPending?.();
      const count =
        counting && (await withDeadline(counting, PENDING_COUNT_DEADLINE_MS).catch(() => undefined));
      if (count !== undefined) this.deliveriesPending.set(count);
    },
  });

  /**
   * How `herald_deliveries_pending` is counted, at scrape time: it reads every pending delivery's index
   * entry (34–75 ms at 500,000 pending), and counting it every 2 s whether anyone scraped or not cost a
   * core a few percent for nothing.
   */
  countPendingWith(count: () => Promise<number>): void {
    this.countPending = count;
  }

  /** Always 1: which build, on which Node, an instance runs (dashboards join on `instance`). */
  readonly buildInfo = new Gauge({
    name: 'herald_build_info',
    help: 'The Herald version and Node.js version of this instance (always 1)',
    labelNames: ['version', 'node'] as const,
    registers: [this.registry],
  });

  constructor(@Inject(HERALD_CONFIG) config: HeraldConfig) {
    this.buildInfo.set({ version: config.version, node: process.version }, 1);
    collectDefaultMetrics({ register: this.registry, prefix: 'herald_' });
    for (const outcome of DELIVERY_OUTCOMES) this.deliveryAttempts.inc({ outcome }, 0);
    for (const status of SETTLED_STATUSES) this.deliveriesSettled.inc({ status }, 0);
    for (const reason of SOCKET_DISCONNECT_REASONS) this.socketDisconnects.inc({ reason }, 0);
  }

  /** The signal series of the transport the instances share, at zero (see DELIVERY_OUTCOMES). */
  startClusterSignalSeries(transport: string): void {
    for (const signal of CLUSTER_SIGNALS) this.clusterSignals.inc({ signal, transport }, 0);
  }

  /** The stream event series of these providers, at zero (see DELIVERY_OUTCOMES). */
  startStreamEventSeries(providers: readonly string[]): void {
    for (const provider of providers) {
      for (const outcome of STREAM_EVENT_OUTCOMES) this.streamEvents.inc({ provider, outcome }, 0);
    }
  }

  /** The ingest series of these providers and of UNKNOWN_PROVIDER, at zero (see DELIVERY_OUTCOMES). */
  startIngestSeries(providers: readonly string[]): void {
    for (const provider of [...providers, UNKNOWN_PROVIDER]) {
      for (const outcome of INGEST_OUTCOMES) this.ingestRequests.inc({ provider, outcome }, 0);
    }
  }
}
