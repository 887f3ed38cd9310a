import type { WebhookRequest } from '@herald/events';
import { computeSignature, SIGNATURE_HEADER } from '../signature.js';
import { pythonJsonDumps } from './python-json.js';

export interface SeatableWebhookRequest extends WebhookRequest {
  /** The body as text, e.g. to POST it with `fetch`. */
  text: string;
  headers: Record<string, string>;
}

/**
 * A webhook request as dtable-events sends it: `{"event": "update", "data": data}` serialized by
 * Python's `json.dumps`, signed with `X-SeaTable-Signature: sha256=<hex>` when a secret is given.
 */
export function buildSeatableWebhook(
  data: Record<string, unknown>,
  options: { secret?: string; event?: string } = {},
): SeatableWebhookRequest {
  return seatableWebhookOfText(pythonJsonDumps({ event: options.event ?? 'update', data }), options);
}

/** A webhook request of exactly `text`, signed as `buildSeatableWebhook` signs (e.g. for bodies it cannot dump). */
export function seatableWebhookOfText(
  text: string,
  options: { secret?: string } = {},
): SeatableWebhookRequest {
  const body = new TextEncoder().encode(text);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'python-requests/2.28.1',
  };
  if (options.secret !== undefined) headers[SIGNATURE_HEADER] = computeSignature(options.secret, body);
  return { text, body, headers, contentType: 'application/json' };
}
