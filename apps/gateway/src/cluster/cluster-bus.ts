import { EventEmitter } from 'node:events';
import type { ClientToServerEvents, ServerToClientEvents } from '@herald/events';
import type { Namespace, ServerOptions } from 'socket.io';
import type { EventWriter } from '../events/event-writer.js';
import type { MetricsService } from '../metrics/metrics.service.js';

/** What instances tell each other through the socket.io adapter (server-side emits). */
export interface ClusterEvents {
  eventsCommitted: (throughSeq: string) => void;
  apiKeyRevoked: (keyId: string) => void;
}

export type EventsNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, ClusterEvents>;

export type SocketAdapter = ServerOptions['adapter'];

export interface ClusterBusStatus {
  transport: 'postgres' | 'redis';
  /** The bus's own connection (LISTEN, or Redis). While it is down the 1 s poll still serves events. */
  connected: boolean;
}

interface Signals {
  eventsCommitted: [throughSeq: bigint | undefined];
  apiKeyRevoked: [keyId: string];
}

/**
 * How gateway instances signal each other: "events were committed" (wakes every log tail) and "an API key
 * was revoked" (forget it, cut off its sockets). Postgres NOTIFY by default, Redis when REDIS_URL is set;
 * chosen once at start so nothing else branches on it. A bus carries only signals: events themselves are
 * always read from the Postgres log, so a lost signal costs latency (until the poll), never an event.
 */
export abstract class ClusterBus {
  /** The socket.io server's adapter (so `/events`'s): it decides how far a room broadcast reaches. */
  abstract readonly socketAdapter: SocketAdapter;
  private readonly signals = new EventEmitter<Signals>();

  constructor(
    private readonly metrics: MetricsService,
    readonly transport: ClusterBusStatus['transport'],
  ) {
    this.signals.setMaxListeners(0);
    metrics.startClusterSignalSeries(transport);
  }

  /** Hands the bus the `/events` namespace once it exists (revocations disconnect its sockets). */
  abstract attach(namespace: EventsNamespace): void;

  /** Makes every commit of `writer` known to the other instances (never before it is committed). */
  abstract shareCommits(writer: EventWriter): void;

  /** Forgets the key and cuts off its sockets on every instance, this one at once. */
  abstract announceRevocation(keyId: string): Promise<void>;

  abstract connected(): boolean;

  /** Cuts off this instance's sockets of a revoked key. */
  protected abstract cutOffHere(keyId: string): void;

  /**
   * A key found deleted without its revocation having reached this instance (see `RevokedKeySweep`):
   * handled here as the signal would have been, its sockets cut off and the key forgotten.
   */
  revokedUnnoticed(keyId: string): void {
    this.cutOffHere(keyId);
    this.revokedHere(keyId);
  }

  status(): ClusterBusStatus {
    return { transport: this.transport, connected: this.connected() };
  }

  /**
   * Another instance committed events (through `throughSeq` when the transport says), or the bus
   * reconnected and may have missed some: read on.
   */
  onEventsCommitted(listener: (throughSeq: bigint | undefined) => void): void {
    this.signals.on('eventsCommitted', listener);
  }

  /** A key was revoked on some instance, this one included. */
  onApiKeyRevoked(listener: (keyId: string) => void): void {
    this.signals.on('apiKeyRevoked', listener);
  }

  protected commitsReceived(throughSeq: bigint | undefined): void {
    this.metrics.clusterSignals.inc({ signal: 'events_committed', transport: this.transport });
    this.signals.emit('eventsCommitted', throughSeq);
  }

  protected revocationReceived(keyId: string): void {
    this.metrics.clusterSignals.inc({ signal: 'api_key_revoked', transport: this.transport });
    this.signals.emit('apiKeyRevoked', keyId);
  }

  protected revokedHere(keyId: string): void {
    this.signals.emit('apiKeyRevoked', keyId);
  }

  protected mayHaveMissedCommits(): void {
    this.signals.emit('eventsCommitted', undefined);
  }
}
