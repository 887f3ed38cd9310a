import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export interface RetiredSecret {
  secret: string;
  expiresAt: string;
}

@Entity({ name: 'endpoints' })
export class EndpointEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  url: string;

  @Column('text')
  description: string;

  /** The type patterns as the operator wrote them. */
  @Column('text', { name: 'filter_types', array: true })
  filterTypes: string[];

  /** `filterTypes` compiled to anchored POSIX regexes, matched in SQL by the event writer's transaction. */
  @Column('text', { name: 'types_regex', array: true })
  typesRegex: string[];

  @Column('uuid', { array: true })
  sources: string[];

  @Column('boolean')
  enabled: boolean;

  @Column('text', { name: 'disabled_reason', nullable: true })
  disabledReason: string | null;

  @Column('text')
  secret: string;

  /** Secrets that rotations replaced, newest first; each keeps signing until its `expiresAt` (ISO 8601). */
  @Column('jsonb', { name: 'retired_secrets' })
  retiredSecrets: RetiredSecret[];

  /** Sent with every webhook to the endpoint (see endpoint-headers.ts), names as the operator wrote them. */
  @Column('jsonb')
  headers: Record<string, string>;

  /** Attempts per second at most, across every instance (see `DeliveryRepository.reserveSendTime`); null: none. */
  @Column('int', { name: 'rate_limit', nullable: true })
  rateLimit: number | null;

  /** First failed attempt since the last success; five days of that disables the endpoint. */
  @Column('timestamptz', { name: 'failing_since', nullable: true })
  failingSince: Date | null;

  /**
   * When Herald last disabled the endpoint, until recovery has seen its `herald.endpoint.disabled`
   * stored (see HealthEventRecovery); an operator's change of `enabled` supersedes the report.
   */
  @Column('timestamptz', { name: 'disable_report_due_at', nullable: true })
  disableReportDueAt: Date | null;

  /** The `Idempotency-Key` the endpoint was created with, and a digest of that request (see `create`). */
  @Column('text', { name: 'idempotency_key', nullable: true })
  idempotencyKey: string | null;

  @Column('text', { name: 'request_digest', nullable: true })
  requestDigest: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
