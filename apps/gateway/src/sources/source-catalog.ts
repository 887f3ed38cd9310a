import { Injectable } from '@nestjs/common';
import { SourceRepository } from './source.repository.js';
import type { SourceEntity } from './source.entity.js';

const TTL_MS = 30_000;
const LIMIT = 10_000;

/**
 * Sources by id for the ingest hot path. Entries are dropped when any instance changes the source
 * (the supervisor relays the NOTIFY), so the TTL only bounds staleness if a notification is missed.
 */
@Injectable()
export class SourceCatalog {
  private readonly entries = new Map<string, { source: SourceEntity | null; expiresAt: number }>();

  constructor(private readonly repository: SourceRepository) {}

  /**
   * Keyed by the id in lower case, as Postgres spells it and as `invalidate` gets it: an upper-case
   * ingest URL used to be cached under its own spelling, which no invalidation reached, so it kept a
   * source's old ingest token working after a rotation.
   */
  async find(spelled: string): Promise<SourceEntity | null> {
    const id = spelled.toLowerCase();
    const cached = this.entries.get(id);
    if (cached && cached.expiresAt > Date.now()) return cached.source;
    const source = await this.repository.findById(id);
    if (this.entries.size >= LIMIT) this.entries.clear();
    this.entries.set(id, { source, expiresAt: Date.now() + TTL_MS });
    return source;
  }

  invalidate(id?: string): void {
    if (id === undefined) this.entries.clear();
    else this.entries.delete(id);
  }
}
