import { HERALD_PROVIDER, type NormalizedEvent } from '@herald/events';
import { v7 as uuidv7 } from 'uuid';
import type { NewEvent } from './event-record.js';

export interface EventOrigin {
  sourceId: string;
  provider: string;
}

/** An adapter's event, stamped with Herald's id and times. Herald's own types keep provider `herald`. */
export function fromNormalized(event: NormalizedEvent, origin: EventOrigin, receivedAt: Date): NewEvent {
  return {
    id: uuidv7(),
    type: event.type,
    sourceId: origin.sourceId,
    provider: event.type.startsWith(`${HERALD_PROVIDER}.`) ? HERALD_PROVIDER : origin.provider,
    subject: event.subject ?? null,
    time: event.time && !Number.isNaN(event.time.getTime()) ? event.time : receivedAt,
    receivedAt,
    data: event.data,
    raw: event.raw
      ? Buffer.from(event.raw.body.buffer, event.raw.body.byteOffset, event.raw.body.byteLength)
      : null,
    rawContentType: event.raw?.contentType ?? null,
    dedupKey: event.dedupKey ?? null,
  };
}
