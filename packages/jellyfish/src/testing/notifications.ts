import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { ServerMessageSchema } from '../gen/jellyfish/server_notifications_pb.js';

export { fishjamSignature } from '../signature.js';
export {
  ServerMessage_EventType,
  ServerMessage_PeerType,
  ServerMessage_TrackType,
  ServerMessage_VadNotification_Status,
} from '../gen/jellyfish/server_notifications_pb.js';

/** The `content` oneof of a ServerMessage, e.g. `{ case: 'roomCreated', value: { roomId: 'r1' } }`. */
export type ServerMessageContent = MessageInitShape<typeof ServerMessageSchema>['content'];

/** The protobuf bytes Jellyfish sends for one message (webhook body or websocket frame). */
export function encodeServerMessage(content: ServerMessageContent): Uint8Array {
  return toBinary(ServerMessageSchema, create(ServerMessageSchema, { content }));
}

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
