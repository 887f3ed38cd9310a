import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { deleteDeliveries } from './deliveries/delivery-deletion.sql.js';
import { Channel } from '../database/pg-listener.service.js';
import { EndpointEntity } from './endpoint.entity.js';

export type NewEndpoint = Omit<EndpointEntity, 'createdAt' | 'updatedAt'>;

/** An endpoint whose disabling was lost (see `missedDisables`): `gone` after a 410, else its streak. */
export interface MissedDisable {
  id: string;
  gone: boolean;
  failingSince: Date | null;
}

/** A disabling whose `herald.endpoint.disabled` may not be stored (see `disablesToReport`). */
export interface DisableToReport {
  id: string;
  url: string;
  reason: string;
  at: Date;
}

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

  /**
   * Stores a new endpoint, or answers the one created before with the same `idempotencyKey` (the
   * unique index makes a concurrent second insert wait for the first and then fail): `created` says
   * which.
   */
  async insert(endpoint: NewEndpoint): Promise<{ endpoint: EndpointEntity; created: boolean }> {
    try {
      return { endpoint: await this.endpoints.save(this.endpoints.create(endpoint)), created: true };
    } catch (error) {
      const key = endpoint.idempotencyKey;
      const violated = (error as { driverError?: { constraint?: string } }).driverError?.constraint;
      if (key === null || violated !== 'endpoints_idempotency_key') throw error;
      const earlier = await this.endpoints.findOneBy({ idempotencyKey: key });
      if (!earlier) throw error;
      return { endpoint: earlier, created: false };
    }
  }

  /**
   * Sets the columns `change` names, computed from the endpoint as it is now under its row lock, and
   * wakes the delivery workers (see `notifyChanged`); undefined when the endpoint is gone, and no write
   * when nothing changes. Only the named columns are written, from the locked row: saving an entity
   * read before wrote back what Herald had changed since (re-enabled an endpoint its worker had just
   * disabled), and a change built from an earlier read lost what a concurrent one wrote (a secret
   * rotation keeps the secrets it replaces).
   */
  async update(
    id: string,
    change: (current: EndpointEntity) => Partial<NewEndpoint>,
  ): Promise<EndpointEntity | undefined> {
    let changed = false;
    const written = await this.endpoints.manager.transaction(async (tx) => {
      const endpoints = tx.getRepository(EndpointEntity);
      const current = await endpoints.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!current) return undefined;
      const changes = change(current);
      if (Object.keys(changes).length === 0) return current;
      changed = true;
      await endpoints.update({ id }, changes);
      // Read under the lock: after it, the row may already hold a later change's values.
      return endpoints.findOneByOrFail({ id });
    });
    if (changed) await this.notifyChanged(id);
    return written;
  }

  /** Deletes the endpoint with its deliveries and their attempts (no foreign keys cascade). */
  async delete(id: string): Promise<boolean> {
    const rows: unknown[] = await this.endpoints.query(
      `WITH endpoint AS (DELETE FROM endpoints WHERE id = $1 RETURNING id),
            ${deleteDeliveries('gone', 'd.endpoint_id = $1')}
       SELECT id FROM endpoint`,
      [id],
    );
    if (rows.length === 0) return false;
    await this.notifyChanged(id);
    return true;
  }

  /**
   * Wakes the delivery workers with the endpoint's id: re-enabling resumes its pending deliveries, and
   * what a worker claimed for it but has not started sending was claimed with the endpoint as it was.
   */
  private async notifyChanged(id: string): Promise<void> {
    await this.endpoints.query('SELECT pg_notify($1, $2)', [Channel.deliveries, id]);
  }

  /**
   * Disables an enabled endpoint, then tells the workers (see `notifyChanged`): what they claimed for it
   * and have not started goes back unsent. Its pending deliveries wait, as when an operator disables it,
   * and go out if it is enabled again: failing them instead split one backlog at random between failed
   * and waiting (those claimed ahead at the moment of the disable went back to pending, and a fan-out
   * committing beside the disable queued after it), so a re-enabled endpoint got part of it.
   * The same transaction marks its `herald.endpoint.disabled` due as of `at`, and clears the mark of
   * `failedDelivery`, whose failure led here: that failure is reported as the disabling, whichever
   * call made it (see HealthEventRecovery).
   * Returns the endpoint only when this call made the change, so exactly one caller reports it.
   */
  async disable(
    id: string,
    reason: string,
    at: Date,
    failedDelivery?: string,
  ): Promise<EndpointEntity | undefined> {
    const disabled = await this.endpoints.manager.transaction(async (tx) => {
      if (failedDelivery !== undefined) {
        await tx.query('UPDATE deliveries SET failure_report_due_at = NULL WHERE id = $1', [failedDelivery]);
      }
      const result = await tx
        .createQueryBuilder()
        .update(EndpointEntity)
        .set({ enabled: false, disabledReason: reason, disableReportDueAt: at })
        .where('id = :id AND enabled', { id })
        .returning('*')
        .execute();
      if (result.affected === 0) return undefined;
      return tx.getRepository(EndpointEntity).findOneByOrFail({ id });
    });
    if (disabled) await this.notifyChanged(id);
    return disabled;
  }

  /**
   * Enabled endpoints Herald should have disabled, had it not died between an attempt's commit and the
   * disable: one answered 410 Gone after it last changed (so an operator's re-enabling stands), or
   * failed every attempt since `failingSince` or earlier. One that the attempt's own follow-up is
   * disabling at the same moment is disabled once: `disable` changes only an enabled endpoint.
   * A 410 outcome leaves its delivery `failed`; one retried by hand since (due, claimed, sending) keeps
   * the old 410 until its new answer is recorded, but its newer `updated_at` says nothing new.
   */
  missedDisables(failingSince: Date, sustainedMs: number): Promise<MissedDisable[]> {
    // A streak is only as long as its last failure: time alone, with nothing attempted since the streak
    // began, disabled endpoints that had failed once and then had no traffic.
    return this.endpoints.query(
      `SELECT m.id, m."failingSince", m.gone FROM (
         SELECT e.id, e.failing_since AS "failingSince", e.last_failed_at,
                EXISTS (SELECT 1 FROM deliveries d
                        WHERE d.endpoint_id = e.id AND d.last_response_status = 410
                          AND d.status = 'failed' AND d.updated_at > e.updated_at) AS gone
         FROM endpoints e WHERE e.enabled) m
       WHERE m.gone OR (m."failingSince" <= $1 AND m.last_failed_at >= m."failingSince" + make_interval(secs => $2))`,
      [failingSince, sustainedMs / 1000],
    );
  }

  /** Endpoints Herald disabled by `before` whose report recovery has not seen stored, oldest first. */
  disablesToReport(before: Date, limit: number): Promise<DisableToReport[]> {
    // An operator's change of `enabled` clears the mark, so a marked endpoint still has Herald's reason.
    return this.endpoints.query(
      `SELECT id, url, disabled_reason AS reason, disable_report_due_at AS at FROM endpoints
       WHERE disable_report_due_at <= $1 ORDER BY disable_report_due_at LIMIT $2`,
      [before, limit],
    );
  }

  /** Clears the marks of `disables`, unless the endpoint was disabled again since; returns how many. */
  async disablesReported(disables: readonly DisableToReport[]): Promise<number> {
    const rows: Array<{ n: number }> = await this.endpoints.query(
      `WITH cleared AS (
         UPDATE endpoints e SET disable_report_due_at = NULL
         FROM unnest($1::uuid[], $2::timestamptz[]) AS r(id, at)
         WHERE e.id = r.id AND e.disable_report_due_at = r.at
         RETURNING 1)
       SELECT count(*)::int AS n FROM cleared`,
      [disables.map((d) => d.id), disables.map((d) => d.at)],
    );
    return rows[0]?.n ?? 0;
  }
}
