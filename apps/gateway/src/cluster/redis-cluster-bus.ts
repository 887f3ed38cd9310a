import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Namespace } from 'socket.io';
import type { Adapter } from 'socket.io-adapter';
import type { EventWriter } from '../events/event-writer.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { cutOffApiKey } from './api-key-room.js';
import { ClusterBus, type EventsNamespace, type SocketAdapter } from './cluster-bus.js';
import { RedisConnection } from './redis-connection.js';

/** Short, so a shutdown does not wait long for the adapter's stream reader to notice. */
const STREAM_BLOCK_MS = 1_000;
const SEQ = /^\d{1,20}$/;

/**
 * The bus when REDIS_URL is set: the `/events` namespace uses the socket.io Redis Streams adapter, and
 * instances signal each other through it instead of NOTIFY. Commits are announced after they commit
 * (server-side emits, Redis pub/sub); revocations disconnect sockets cluster-wide through the adapter's
 * stream, which keeps the order "closing, then disconnect". Losing Redis loses signals, never events.
 */
@Injectable()
export class RedisClusterBus extends ClusterBus implements OnApplicationShutdown {
  readonly socketAdapter: SocketAdapter;
  private readonly adapters: Adapter[] = [];
  private namespace: EventsNamespace | undefined;

  constructor(
    private readonly redis: RedisConnection,
    metrics: MetricsService,
  ) {
    super(metrics, 'redis');
    const create = createAdapter(redis.client, { blockTimeInMs: STREAM_BLOCK_MS, onlyPlaintext: true });
    const adapters = this.adapters;
    // socket.io calls the adapter with `new`, so this cannot be an arrow function.
    this.socketAdapter = function (namespace: Namespace): Adapter {
      const adapter = create(namespace);
      adapters.push(adapter);
      return adapter;
    };
    redis.onReconnected(() => this.mayHaveMissedCommits());
  }

  attach(namespace: EventsNamespace): void {
    this.namespace = namespace;
    // Whatever reaches the Redis channel arrives here, so check the shape before trusting it.
    namespace.on('eventsCommitted', (throughSeq) => {
      if (typeof throughSeq === 'string' && SEQ.test(throughSeq)) this.commitsReceived(BigInt(throughSeq));
    });
    namespace.on('apiKeyRevoked', (keyId) => {
      if (typeof keyId === 'string') this.revocationReceived(keyId);
    });
  }

  shareCommits(writer: EventWriter): void {
    writer.committed.on('committed', (events) => {
      // While Redis is down the client would queue every announcement, unbounded and stale by the
      // time it is sent; the other instances' poll covers the gap instead.
      if (!this.redis.ready) return;
      this.namespace?.serverSideEmit('eventsCommitted', events[events.length - 1]!.seq);
    });
  }

  async announceRevocation(keyId: string): Promise<void> {
    const namespace = this.namespace;
    this.revokedHere(keyId);
    if (!namespace) return;
    // The adapter acts locally only after Redis took the message; here it must not wait for Redis.
    this.cutOffHere(keyId);
    // Queued by the client while Redis is down, so other instances still get it when it is back.
    cutOffApiKey(namespace, keyId);
    namespace.serverSideEmit('apiKeyRevoked', keyId);
  }

  connected(): boolean {
    return this.redis.ready;
  }

  protected cutOffHere(keyId: string): void {
    if (this.namespace) cutOffApiKey(this.namespace.local, keyId);
  }

  async onApplicationShutdown(): Promise<void> {
    // Nest does not close a gateway's namespace, so the adapters' stream readers would run on.
    await Promise.all(this.adapters.map((adapter) => adapter.close()));
    this.redis.close();
  }
}
