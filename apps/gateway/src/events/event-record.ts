import {
  ENDPOINT_REPORT_TYPES,
  HERALD_PROVIDER,
  type HeraldEvent,
  PUBLISHED_PROVIDER,
  sourceUri,
} from '@herald/events';

/** An event about to be stored; `seq` is assigned by the writer inside its commit-ordered transaction. */
export interface NewEvent {
  id: string;
  type: string;
  sourceId: string;
  provider: string;
  subject: string | null;
  time: Date;
  receivedAt: Date;
  data: Record<string, unknown>;
  raw: Buffer | null;
  rawContentType: string | null;
  dedupKey: string | null;
}

/** A row of `events` as the store reads it (raw only when asked for). */
export interface EventRow {
  seq: string;
  id: string;
  type: string;
  source_id: string;
  provider: string;
  subject: string | null;
  time: Date;
  received_at: Date;
  data: Record<string, unknown>;
  raw?: Buffer | null;
  raw_content_type?: string | null;
}

export const EVENT_COLUMNS = 'seq, id, type, source_id, provider, subject, time, received_at, data';

/** The envelope's `source`: the source, API key or endpoint `sourceid` names. */
export function envelopeSource(provider: string, sourceId: string, type: string): string {
  if (provider === PUBLISHED_PROVIDER) return `/api-keys/${sourceId}`;
  if (provider === HERALD_PROVIDER && ENDPOINT_REPORT_TYPES.has(type)) return `/endpoints/${sourceId}`;
  return sourceUri(sourceId);
}

export function toEnvelope(row: EventRow): HeraldEvent {
  const event: HeraldEvent = {
    specversion: '1.0',
    id: row.id,
    seq: row.seq,
    type: row.type,
    source: envelopeSource(row.provider, row.source_id, row.type),
    time: row.time.toISOString(),
    receivedat: row.received_at.toISOString(),
    datacontenttype: 'application/json',
    provider: row.provider,
    sourceid: row.source_id,
    data: row.data,
  };
  if (row.subject !== null) event.subject = row.subject;
  return event;
}

/** Envelope of an event just written, without a round trip to read it back. */
export function newEventEnvelope(event: NewEvent, seq: string): HeraldEvent {
  return toEnvelope({
    seq,
    id: event.id,
    type: event.type,
    source_id: event.sourceId,
    provider: event.provider,
    subject: event.subject,
    time: event.time,
    received_at: event.receivedAt,
    data: event.data,
  });
}
