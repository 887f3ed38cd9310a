import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

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

  /** The secret replaced by the last rotation; it keeps signing until `previousSecretExpiresAt`. */
  @Column('text', { name: 'previous_secret', nullable: true })
  previousSecret: string | null;

  @Column('timestamptz', { name: 'previous_secret_expires_at', nullable: true })
  previousSecretExpiresAt: Date | null;

  /** First failed attempt since the last success; five days of that disables the endpoint. */
  @Column('timestamptz', { name: 'failing_since', nullable: true })
  failingSince: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
