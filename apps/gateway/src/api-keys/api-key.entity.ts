import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column('text', { array: true })
  scopes: string[];

  /** SHA-256 of the token: keys are 256-bit random, so a fast hash is enough and lookups stay O(1). */
  @Column('bytea', { name: 'token_hash' })
  tokenHash: Buffer;

  /** The token's first characters, so operators can tell keys apart without the secret. */
  @Column('text', { name: 'token_prefix' })
  tokenPrefix: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
