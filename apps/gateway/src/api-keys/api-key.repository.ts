import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { AdvisoryLock } from '../database/advisory-locks.js';
import { ApiKeyEntity } from './api-key.entity.js';

export type KeyDeletion = 'deleted' | 'missing' | 'last_admin';

export interface KeyTableState {
  anyKey: boolean;
  anyAdmin: boolean;
  /** Whether a key with the candidate's token exists already. */
  tokenKnown: boolean;
}

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

  async delete(id: string): Promise<void> {
    await this.keys.delete({ id });
  }

  /**
   * Deletes a key unless it is the last admin key (nobody could administer Herald any more). Under the
   * admin-keys lock: two admins deleting each other at once would otherwise each still see the other and
   * both succeed.
   */
  deleteUnlessLastAdmin(id: string): Promise<KeyDeletion> {
    return this.keys.manager.transaction(async (tx: EntityManager) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [AdvisoryLock.adminKeys]);
      const [key]: Array<{ admin: boolean; otherAdmins: boolean }> = await tx.query(
        `SELECT 'admin' = ANY(k.scopes) AS admin,
                EXISTS (SELECT 1 FROM api_keys o WHERE o.id <> k.id AND 'admin' = ANY(o.scopes)) AS "otherAdmins"
           FROM api_keys k WHERE k.id = $1`,
        [id],
      );
      if (!key) return 'missing';
      if (key.admin && !key.otherAdmins) return 'last_admin';
      await tx.query('DELETE FROM api_keys WHERE id = $1', [id]);
      return 'deleted';
    });
  }

  /**
   * Inserts the admin key `key` when `due` says so for the table as it is, and returns what it decided
   * on. Under the admin-keys lock, so instances starting together install one key between them.
   */
  insertAdminIf(
    key: Omit<ApiKeyEntity, 'createdAt'>,
    due: (state: KeyTableState) => boolean,
  ): Promise<{ inserted: boolean; state: KeyTableState }> {
    return this.keys.manager.transaction(async (tx: EntityManager) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [AdvisoryLock.adminKeys]);
      const [state]: KeyTableState[] = await tx.query(
        `SELECT EXISTS (SELECT 1 FROM api_keys) AS "anyKey",
                EXISTS (SELECT 1 FROM api_keys WHERE 'admin' = ANY(scopes)) AS "anyAdmin",
                EXISTS (SELECT 1 FROM api_keys WHERE token_hash = $1) AS "tokenKnown"`,
        [key.tokenHash],
      );
      if (!due(state!)) return { inserted: false, state: state! };
      await tx.getRepository(ApiKeyEntity).insert(key);
      return { inserted: true, state: state! };
    });
  }
}
