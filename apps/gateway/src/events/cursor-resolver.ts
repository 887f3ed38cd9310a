import { isUuid } from '../common/resource-id.js';
import { Inject, Injectable } from '@nestjs/common';
import { HERALD_CONFIG, type HeraldConfig } from '../config/herald-config.js';
import { EventRepository, expiredBy } from './event.repository.js';

export type CursorResolution =
  | { kind: 'ok'; seq: bigint }
  | { kind: 'expired' }
  | { kind: 'unknown' }
  /** A seq no event has had yet: everything up to it, future events included, would be skipped. */
  | { kind: 'ahead'; lastSeq: bigint };

const SEQ = /^\d{1,18}$/;

/** Milliseconds since the epoch encoded in a UUIDv7 (its first 48 bits). */
function uuidv7Time(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

/**
 * Turns an `after` cursor (a seq, or an event id) into a seq, for the REST list and the socket alike.
 * A cursor behind what retention removed is expired, one past the newest seq is refused; `0` always
 * means "from the oldest event kept".
 */
@Injectable()
export class CursorResolver {
  constructor(
    private readonly events: EventRepository,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
  ) {}

  async resolve(after: string): Promise<CursorResolution> {
    if (SEQ.test(after)) {
      const seq = BigInt(after);
      const { purgedThrough, lastIssued } = await this.events.seqBounds();
      if (expiredBy(seq, purgedThrough)) return { kind: 'expired' };
      // The sequence is shared by every instance, so an event another one committed is never ahead.
      if (seq > lastIssued) return { kind: 'ahead', lastSeq: lastIssued };
      return { kind: 'ok', seq };
    }
    if (!isUuid(after)) return { kind: 'unknown' };
    // Retention removes by receive time, so an event it kept may sit below events it removed: the id
    // of a kept event is expired too when a purge passed it.
    const { seq, purgedThrough } = await this.events.positionOf(after);
    if (seq !== undefined) return expiredBy(seq, purgedThrough) ? { kind: 'expired' } : { kind: 'ok', seq };
    const retentionStart = Date.now() - this.config.retentionDays * 86_400_000;
    return uuidv7Time(after) < retentionStart ? { kind: 'expired' } : { kind: 'unknown' };
  }
}

/** Why a cursor that did not resolve is refused, in the codes the socket and REST share. */
export function cursorRefusal(
  resolution: Exclude<CursorResolution, { kind: 'ok' }>,
  field: string,
): { code: 'cursor_expired' | 'invalid_cursor'; message: string } {
  switch (resolution.kind) {
    case 'expired':
      return {
        code: 'cursor_expired',
        message: `${field} is older than the retention period; start again without it, or from a newer event`,
      };
    case 'ahead':
      return {
        code: 'invalid_cursor',
        message: `${field} is beyond the newest event (seq ${resolution.lastSeq}); start again without it, or from a stored event`,
      };
    case 'unknown':
      return { code: 'invalid_cursor', message: `${field} must be a seq or the id of a stored event` };
  }
}
