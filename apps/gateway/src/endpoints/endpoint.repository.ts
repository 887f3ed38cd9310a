import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { deleteDeliveries } from './deliveries/delivery-deletion.sql.js';
import { Channel } from '../database/pg-listener.service.js';
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
    await this.endpoints.query('SELECT pg_notify($1, $2)', [Channel.deliveries, endpoint.id]);
    return saved;
  }

  /** Deletes the endpoint with its deliveries and their attempts (no foreign keys cascade). */
  async delete(id: string): Promise<boolean> {
    const rows: unknown[] = await this.endpoints.query(
      `WITH endpoint AS (DELETE FROM endpoints WHERE id = $1 RETURNING id),
            ${deleteDeliveries('gone', 'd.endpoint_id = $1')}
       SELECT id FROM endpoint`,
      [id],
    );
    return rows.length > 0;
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
