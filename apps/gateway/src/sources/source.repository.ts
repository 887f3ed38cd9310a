import { HERALD_PROVIDER } from '@herald/events';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { QueryDeepPartialEntity, Repository } from 'typeorm';
import { SourceStateEntity } from './source-state.entity.js';
import { SourceEntity } from './source.entity.js';

/** What an update may change: everything but the identity and the timestamps Postgres keeps. */
export type SourceChanges = Partial<Omit<SourceEntity, 'id' | 'createdAt' | 'updatedAt'>>;

/** The NOTIFY channel that tells every instance a source changed (payload: the source id). */
export const SOURCE_CHANGES_CHANNEL = 'herald_source_changes';

@Injectable()
export class SourceRepository {
  constructor(
    @InjectRepository(SourceEntity) private readonly sources: Repository<SourceEntity>,
    @InjectRepository(SourceStateEntity) private readonly states: Repository<SourceStateEntity>,
  ) {}

  findById(id: string): Promise<SourceEntity | null> {
    return this.sources.findOneBy({ id });
  }

  findEnabledStreams(): Promise<SourceEntity[]> {
    return this.sources.findBy({ mode: 'stream', enabled: true });
  }

  page(after: string | undefined, limit: number): Promise<SourceEntity[]> {
    const query = this.sources.createQueryBuilder('s').orderBy('s.id', 'ASC').limit(limit);
    if (after) query.where('s.id > :after', { after });
    return query.getMany();
  }

  /** Stores a new source and tells every instance (one may start its stream). */
  async insert(source: Omit<SourceEntity, 'createdAt' | 'updatedAt'>): Promise<SourceEntity> {
    const saved = await this.sources.save(this.sources.create(source));
    await this.notifyChanged(source.id);
    return saved;
  }

  /**
   * Sets just the changes `change` makes of the source as it is, under its row lock, and tells every
   * instance (the holder of a stream source restarts it). Undefined when the source is gone; nothing is
   * written (or announced) when `change` changes nothing.
   * Only the named columns are written: saving the whole entity read before wrote back what a concurrent
   * call had changed (an old ingest token after a rotation), or inserted a source a concurrent DELETE had
   * just removed. The lock makes two PATCHes of its config at once each merge into what the other wrote,
   * instead of the later one writing back what the earlier replaced (a new secret).
   */
  async update(
    id: string,
    change: (current: SourceEntity) => SourceChanges,
  ): Promise<SourceEntity | undefined> {
    const result = await this.sources.manager.transaction(async (tx) => {
      const sources = tx.getRepository(SourceEntity);
      const current = await sources.findOne({ where: { id }, lock: { mode: 'for_no_key_update' } });
      if (!current) return undefined;
      const changes = change(current);
      if (Object.keys(changes).length === 0) return { source: current, changed: false };
      await sources
        .createQueryBuilder()
        .update(SourceEntity)
        // The config is a jsonb document, not columns: TypeORM's deep-partial type cannot say so.
        .set(changes as QueryDeepPartialEntity<SourceEntity>)
        .where('id = :id', { id })
        .execute();
      return { source: await sources.findOneByOrFail({ id }), changed: true };
    });
    if (result?.changed) await this.notifyChanged(id);
    return result?.source;
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.sources.delete({ id });
    await this.notifyChanged(id);
    return (result.affected ?? 0) > 0;
  }

  findState(sourceId: string): Promise<SourceStateEntity | null> {
    return this.states.findOneBy({ sourceId });
  }

  async saveState(state: Omit<SourceStateEntity, 'updatedAt'>): Promise<void> {
    // The source may be deleted while its stream stops; the FK then refuses and there is nothing to record.
    await this.states.upsert(state, ['sourceId']).catch((error: { code?: string }) => {
      if (error.code !== '23503') throw error;
    });
  }

  /** When the provider last sent something; Herald's own events about the source do not count. */
  async lastEventAt(sourceId: string): Promise<Date | null> {
    const rows: Array<{ received_at: Date }> = await this.sources.manager.query(
      'SELECT received_at FROM events WHERE source_id = $1 AND provider <> $2 ORDER BY seq DESC LIMIT 1',
      [sourceId, HERALD_PROVIDER],
    );
    return rows[0]?.received_at ?? null;
  }

  private async notifyChanged(id: string): Promise<void> {
    await this.sources.manager.query('SELECT pg_notify($1, $2)', [SOURCE_CHANGES_CHANNEL, id]);
  }
}
