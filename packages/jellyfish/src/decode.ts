import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ServerMessageSchema, type ServerMessage } from './gen/jellyfish/server_notifications_pb.js';

/** One notification and the protobuf bytes it came from. */
export interface EncodedNotification {
  message: ServerMessage;
  bytes: Uint8Array;
}

/** The bytes are not a protobuf `ServerMessage` (truncated, garbage, or a nested batch). */
export class MalformedNotificationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MalformedNotificationError';
  }
}

/**
 * Decodes one body or frame: a single `ServerMessage`, or a Fishjam Cloud `NotificationBatch` unwrapped in
 * order. Fails as a whole, so a caller never acts on part of a batch.
 */
export function decodeNotifications(bytes: Uint8Array): EncodedNotification[] {
  const message = decodeServerMessage(bytes);
  if (message.content.case !== 'notificationBatch') return [{ message, bytes }];
  return message.content.value.notifications.map((notification) => {
    if (notification.content.case === 'notificationBatch') {
      throw new MalformedNotificationError('a NotificationBatch must not contain another batch');
    }
    // The decoder does not keep each element's bytes; re-encoding gives them back (unknown fields included)
    // in canonical field order, which is what every Fishjam encoder writes.
    return { message: notification, bytes: toBinary(ServerMessageSchema, notification) };
  });
}

function decodeServerMessage(bytes: Uint8Array): ServerMessage {
  try {
    return fromBinary(ServerMessageSchema, bytes);
  } catch (error) {
    throw new MalformedNotificationError(`not a protobuf ServerMessage: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
