import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { SourceMode } from '@herald/events';

@Entity({ name: 'sources' })
export class SourceEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column('text')
  provider: string;

  @Column('text')
  mode: SourceMode;

  /** The adapter's normalized config, secrets included (needed to verify and connect). */
  @Column('jsonb')
  config: Record<string, unknown>;

  /** SHA-256 of the ingest token in the webhook URL; only webhook sources have one. */
  @Column('bytea', { name: 'ingest_token_hash', nullable: true })
  ingestTokenHash: Buffer | null;

  @Column('text', { name: 'ingest_token_prefix', nullable: true })
  ingestTokenPrefix: string | null;

  /** The token a rotation replaced, still taken until `previousIngestTokenExpiresAt`. */
  @Column('bytea', { name: 'previous_ingest_token_hash', nullable: true })
  previousIngestTokenHash: Buffer | null;

  @Column('timestamptz', { name: 'previous_ingest_token_expires_at', nullable: true })
  previousIngestTokenExpiresAt: Date | null;

  @Column('boolean')
  enabled: boolean;

  /** Raise `herald.source.silent` when a source that has sent events is quiet this long. */
  @Column('integer', { name: 'silent_after_seconds', nullable: true })
  silentAfterSeconds: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
