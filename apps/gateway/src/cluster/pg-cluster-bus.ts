import { Inject, Injectable } from '@nestjs/common';
import { Adapter } from 'socket.io-adapter';
import { DataSource } from 'typeorm';
import { INSTANCE_ID } from '../config/herald-config.js';
import { Channel, PgListener } from '../database/pg-listener.service.js';
import type { EventWriter } from '../events/event-writer.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { cutOffApiKey } from './api-key-room.js';
import { ClusterBus, type EventsNamespace } from './cluster-bus.js';

/**
 * The default bus: Postgres LISTEN/NOTIFY. The events NOTIFY is sent inside the writer's transaction, so
 * Postgres delivers it at commit and never before. Sockets use socket.io's in-memory adapter, so each
 * instance cuts off its own sockets when the revocation NOTIFY reaches it.
 */
@Injectable()
export class PgClusterBus extends ClusterBus {
  readonly socketAdapter = Adapter;
  private namespace: EventsNamespace | undefined;

  constructor(
    private readonly listener: PgListener,
    private readonly dataSource: DataSource,
    metrics: MetricsService,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
  ) {
    super(metrics, 'postgres');
    // The payload names the committing instance: this one's own commits already reached its log tail
    // in process, so its own NOTIFY would only cost an empty read per commit.
    listener.on(Channel.events, (from) => {
      if (from !== instanceId) this.commitsReceived(undefined);
    });
    listener.on('reconnected', () => this.mayHaveMissedCommits());
    listener.on(Channel.apiKeyRevoked, (keyId) => {
      this.cutOffHere(keyId);
      this.revocationReceived(keyId);
    });
  }

  attach(namespace: EventsNamespace): void {
    this.namespace = namespace;
  }

  /**
   * Only while another instance listens: a lone instance's NOTIFY would reach no one, yet it cost a
   * fifth of Postgres's CPU per event (docs/performance.md, ninth session).
   */
  shareCommits(writer: EventWriter): void {
    writer.notifyOnCommit(Channel.events, this.instanceId, () => this.listener.othersListening);
  }

  /** Acts here at once rather than on its own NOTIFY's return; acting twice is harmless. */
  async announceRevocation(keyId: string): Promise<void> {
    this.cutOffHere(keyId);
    this.revokedHere(keyId);
    await this.dataSource.query('SELECT pg_notify($1, $2)', [Channel.apiKeyRevoked, keyId]);
  }

  connected(): boolean {
    return this.listener.connected;
  }

  protected cutOffHere(keyId: string): void {
    if (this.namespace) cutOffApiKey(this.namespace, keyId);
  }
}
