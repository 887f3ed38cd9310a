import { AdapterError, type NormalizedEvent, type WebhookRequest } from '@herald/events';
import type { WebhookSourceConfig } from './config.js';
import { decodeNotifications, MalformedNotificationError } from './decode.js';
import { normalizeNotification, PROTOBUF_CONTENT_TYPE } from './normalize.js';
import { FISHJAM_SIGNATURE_HEADER, verifyFishjamSignature } from './signature.js';

export const JSON_CONTENT_TYPE = 'application/json';
export const WEBHOOK_CONTENT_TYPES = [PROTOBUF_CONTENT_TYPE, JSON_CONTENT_TYPE] as const;

/**
 * One webhook request → its events, in order. Bodies are all-or-nothing: anything undecodable fails the whole
 * request with `invalid_body`. Handshake messages (auth, subscribe) never belong on a webhook and are dropped
 * rather than stored, since an AuthRequest would carry a server token.
 */
export function parseJellyfishWebhook(
  request: WebhookRequest,
  config: WebhookSourceConfig,
): NormalizedEvent[] {
  if (config.signingSecret !== undefined) {
    verifyFishjamSignature(request.body, request.headers[FISHJAM_SIGNATURE_HEADER], config.signingSecret);
  }
  const bytes = notificationBytes(request);
  try {
    return decodeNotifications(bytes).flatMap((notification) => normalizeNotification(notification) ?? []);
  } catch (error) {
    if (error instanceof MalformedNotificationError) {
      throw new AdapterError('invalid_body', error.message, { cause: error });
    }
    throw error;
  }
}

function notificationBytes(request: WebhookRequest): Uint8Array {
  switch (request.contentType) {
    case PROTOBUF_CONTENT_TYPE:
      return request.body;
    case JSON_CONTENT_TYPE:
      return jsonNotificationBytes(request.body);
    default:
      throw new AdapterError(
        'unsupported_media_type',
        `expected ${WEBHOOK_CONTENT_TYPES.join(' or ')}, got "${request.contentType}"`,
      );
  }
}

/**
 * Jellyfish v0.3.0 posted `{"notification": <string>}` where the string *is* the protobuf bytes: Jason put the
 * binary into the JSON string as UTF-8 text (control bytes as \u escapes), so UTF-8-encoding the parsed string
 * gives the bytes back.
 */
function jsonNotificationBytes(body: Uint8Array): Uint8Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (error) {
    throw new AdapterError('invalid_json', 'body is not UTF-8 JSON', { cause: error });
  }
  const notification = (parsed as { notification?: unknown } | null)?.notification;
  if (typeof notification !== 'string') {
    throw new AdapterError('invalid_body', 'expected a JSON object with a string "notification"');
  }
  return new Uint8Array(Buffer.from(notification, 'utf8'));
}
