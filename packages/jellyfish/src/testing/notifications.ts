import { fromBinary } from '@bufbuild/protobuf';
import { encodeServerMessage } from '../encode.js';
import { ServerMessageSchema } from '../gen/jellyfish/server_notifications_pb.js';

export { encodeServerMessage, type ServerMessageContent } from '../encode.js';
export { fishjamSignature } from '../signature.js';
export {
  ServerMessage_EventType,
  ServerMessage_PeerType,
  ServerMessage_TrackType,
  ServerMessage_VadNotification_Status,
} from '../gen/jellyfish/server_notifications_pb.js';

/** A Fishjam Cloud `NotificationBatch` webhook body holding these encoded notifications, in order. */
export function encodeNotificationBatch(notifications: readonly Uint8Array[]): Uint8Array {
  return encodeServerMessage({
    case: 'notificationBatch',
    value: { notifications: notifications.map((bytes) => fromBinary(ServerMessageSchema, bytes)) },
  });
}

/**
 * A Jellyfish v0.3.0 webhook body: `{"notification": <the protobuf bytes as a JSON string>}`, as Jason wrote it
 * (bytes taken as UTF-8 text, control characters as \u escapes). Only bytes that are valid UTF-8 survive this.
 */
export function encodeV03JsonBody(notification: Uint8Array): Uint8Array {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(notification);
  return new TextEncoder().encode(JSON.stringify({ notification: text }));
}
