/** A Herald event as stored, listed and delivered: CloudEvents 1.0 in JSON structured mode. */
export interface HeraldEvent<TData = Record<string, unknown>> {
  specversion: '1.0';
  /** UUIDv7 assigned by Herald. */
  id: string;
  /** Decimal string of the gateway-wide, strictly increasing commit sequence. */
  seq: string;
  type: string;
  /**
   * `/sources/<id>` for provider events and Herald's reports on sources, `/api-keys/<id>` for published
   * ones, `/endpoints/<id>` for Herald's reports on an endpoint (`ENDPOINT_REPORT_TYPES`).
   */
  source: string;
  subject?: string;
  /** The provider's time when it gives one, else `receivedat`. ISO 8601. */
  time: string;
  receivedat: string;
  datacontenttype: 'application/json';
  provider: string;
  sourceid: string;
  data: TData;
}

/** Providers Herald itself uses for events that do not come from an adapter. */
export const HERALD_PROVIDER = 'herald';
export const PUBLISHED_PROVIDER = 'custom';

/** The `subject` of Herald's `herald.source.*` events about a source. */
export function sourceSubject(sourceId: string): string {
  return `sources/${sourceId}`;
}

/** Prefix of the envelope's `source` attribute for a provider source. */
export function sourceUri(sourceId: string): string {
  return `/sources/${sourceId}`;
}
