import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { AdvisoryLock } from '../database/advisory-locks.js';
import { ApiKeyEntity } from './api-key.entity.js';

@Injectable()
export class ApiKeyRepository {
  constructor(@InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>) {}

  findByHash(tokenHash: Buffer): Promise<ApiKeyEntity | null> {
    return this.keys.findOneBy({ tokenHash });
  }

  findById(id: string): Promise<ApiKeyEntity | null> {
    return this.keys.findOneBy({ id });
  }

  /** Which of `ids` still exist. */
  async existing(ids: readonly string[]): Promise<Set<string>> {
    const rows: Array<{ id: string }> = await this.keys.query(
      'SELECT id FROM api_keys WHERE id = ANY($1::uuid[])',
      [ids],
    );
    return new Set(rows.map((row) => row.id));
  }

  /** Keyset page ordered by id (UUIDv7, so by creation time). */
  page(after: string | undefined, limit: number): Promise<ApiKeyEntity[]> {
    const query = this.keys.createQueryBuilder('k').orderBy('k.id', 'ASC').limit(limit);
    if (after) query.where('k.id > :after', { after });
    return query.getMany();
  }

  insert(key: Omit<ApiKeyEntity, 'createdAt'>): Promise<ApiKeyEntity> {
    return this.keys.save(this.keys.create(key));
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.keys.delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /**
   * Inserts `key` only when the table is empty, under a lock so instances starting together create
   * one bootstrap key between them. Returns whether it was inserted.
   */
  insertIfNone(key: Omit<ApiKeyEntity, 'createdAt'>): Promise<boolean> {
    return this.keys.manager.transaction(async (tx: EntityManager) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [AdvisoryLock.bootstrapAdminKey]);
      const existing = await tx.getRepository(ApiKeyEntity).count({ take: 1 });
      if (existing > 0) return false;
      await tx.getRepository(ApiKeyEntity).insert(key);
      return true;
    });
  }
}
