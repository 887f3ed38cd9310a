import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { DELIVERY_WAKE_CHANNEL } from './deliveries/delivery.repository.js';
import { EndpointEntity } from './endpoint.entity.js';

export type NewEndpoint = Omit<EndpointEntity, 'createdAt' | 'updatedAt'>;

@Injectable()
export class EndpointRepository {
  constructor(@InjectRepository(EndpointEntity) private readonly endpoints: Repository<EndpointEntity>) {}

  findById(id: string): Promise<EndpointEntity | null> {
    return this.endpoints.findOneBy({ id });
  }

  page(after: string | undefined, limit: number): Promise<EndpointEntity[]> {
    const query = this.endpoints.createQueryBuilder('e').orderBy('e.id', 'ASC').limit(limit);
    if (after) query.where('e.id > :after', { after });
    return query.getMany();
  }

  insert(endpoint: NewEndpoint): Promise<EndpointEntity> {
    return this.endpoints.save(this.endpoints.create(endpoint));
  }

  /** Saves and wakes the delivery workers: re-enabling resumes the endpoint's pending deliveries. */
  async save(endpoint: EndpointEntity): Promise<EndpointEntity> {
    const saved = await this.endpoints.save(endpoint);
    await this.endpoints.query('SELECT pg_notify($1, $2)', [DELIVERY_WAKE_CHANNEL, endpoint.id]);
    return saved;
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.endpoints.delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /**
   * Success clears the failing streak; a failure starts it (at `now`) unless one is running. Writes
   * only when the streak changes, so a healthy endpoint's row is not a hot spot for its attempts.
   */
  async recordOutcome(id: string, succeeded: boolean, now: Date): Promise<Date | null> {
    const rows: Array<{ failing_since: Date | null }> = await this.endpoints.query(
      `WITH changed AS (
         UPDATE endpoints SET failing_since = CASE WHEN $2 THEN NULL ELSE $3::timestamptz END
         WHERE id = $1 AND (failing_since IS NULL) = NOT $2
         RETURNING failing_since)
       SELECT failing_since FROM changed
       UNION ALL
       SELECT failing_since FROM endpoints WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM changed)`,
      [id, succeeded, now],
    );
    return rows[0]?.failing_since ?? null;
  }

  /**
   * Disables an enabled endpoint and fails its pending deliveries, in one transaction. Returns the
   * endpoint only when this call made the change, so exactly one caller reports it.
   */
  disable(id: string, reason: string): Promise<EndpointEntity | undefined> {
    return this.endpoints.manager.transaction(async (tx) => {
      const result = await tx
        .createQueryBuilder()
        .update(EndpointEntity)
        .set({ enabled: false, disabledReason: reason })
        .where('id = :id AND enabled', { id })
        .returning('*')
        .execute();
      if (result.affected === 0) return undefined;
      await tx.query(
        `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, updated_at = now(),
           last_error = coalesce(last_error, $2)
         WHERE endpoint_id = $1 AND status = 'pending'`,
        [id, `endpoint disabled: ${reason}`],
      );
      return tx.getRepository(EndpointEntity).findOneByOrFail({ id });
    });
  }
}
