import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { StreamState } from '@herald/events';

/** The live state of a stream source, written by the instance that holds it. */
@Entity({ name: 'source_states' })
export class SourceStateEntity {
  @PrimaryColumn('uuid', { name: 'source_id' })
  sourceId: string;

  @Column('text')
  state: StreamState;

  @Column('text', { name: 'last_error', nullable: true })
  lastError: string | null;

  @Column('timestamptz', { name: 'connected_since', nullable: true })
  connectedSince: Date | null;

  @Column('integer')
  reconnects: number;

  @Column('text', { name: 'instance_id' })
  instanceId: string;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
