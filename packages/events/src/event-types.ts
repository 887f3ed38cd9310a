/**
 * The type-name catalogue (contract §4). Types are dot-separated lowercase segments; providers own
 * their first segment. `seatable.op.<op_type>` is open-ended because SeaTable adds operations.
 */
export const SEATABLE_EVENT_TYPES = [
  'seatable.row.inserted',
  'seatable.row.modified',
  'seatable.row.deleted',
  'seatable.rows.inserted',
  'seatable.rows.modified',
  'seatable.rows.deleted',
  'seatable.link.added',
  'seatable.link.removed',
  'seatable.link.updated',
  'seatable.notification',
] as const;

export const JELLYFISH_EVENT_TYPES = [
  'jellyfish.room.created',
  'jellyfish.room.deleted',
  'jellyfish.room.crashed',
  'jellyfish.peer.added',
  'jellyfish.peer.deleted',
  'jellyfish.peer.connected',
  'jellyfish.peer.disconnected',
  'jellyfish.peer.crashed',
  'jellyfish.peer.metadata_updated',
  'jellyfish.component.crashed',
  'jellyfish.track.added',
  'jellyfish.track.removed',
  'jellyfish.track.metadata_updated',
  'jellyfish.hls.playable',
  'jellyfish.hls.uploaded',
  'jellyfish.hls.upload_crashed',
  'jellyfish.metrics.report',
  'jellyfish.unknown',
] as const;

export const HERALD_EVENT_TYPES = [
  'herald.source.connected',
  'herald.source.disconnected',
  'herald.source.failed',
  'herald.source.gap',
  'herald.source.silent',
  'herald.delivery.failing',
  'herald.endpoint.disabled',
] as const;

/** Herald's reports on an endpoint's deliveries: their `sourceid` is the endpoint's id. */
export const ENDPOINT_REPORT_TYPES: ReadonlySet<string> = new Set<HeraldEventType>([
  'herald.delivery.failing',
  'herald.endpoint.disabled',
]);

export type SeatableEventType = (typeof SEATABLE_EVENT_TYPES)[number] | `seatable.op.${string}`;
export type JellyfishEventType = (typeof JELLYFISH_EVENT_TYPES)[number];
export type HeraldEventType = (typeof HERALD_EVENT_TYPES)[number];
export type KnownEventType = SeatableEventType | JellyfishEventType | HeraldEventType;

/** Namespaces only Herald and its adapters may publish into; `POST /v1/events` must not forge them. */
export const RESERVED_TYPE_PREFIXES = ['herald.', 'seatable.', 'jellyfish.'] as const;

const TYPE_NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
export const MAX_TYPE_LENGTH = 200;

export function isValidTypeName(type: string): boolean {
  return type.length > 0 && type.length <= MAX_TYPE_LENGTH && TYPE_NAME.test(type);
}

export function isReservedType(type: string): boolean {
  return RESERVED_TYPE_PREFIXES.some((prefix) => type.startsWith(prefix));
}
