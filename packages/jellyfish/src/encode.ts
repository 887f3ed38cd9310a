import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { ServerMessageSchema } from './gen/jellyfish/server_notifications_pb.js';

/** The `content` oneof of a ServerMessage, e.g. `{ case: 'roomCreated', value: { roomId: 'r1' } }`. */
export type ServerMessageContent = MessageInitShape<typeof ServerMessageSchema>['content'];

/** The protobuf bytes of one ServerMessage, as a websocket frame or a webhook body carries them. */
export function encodeServerMessage(content: ServerMessageContent): Uint8Array {
  return toBinary(ServerMessageSchema, create(ServerMessageSchema, { content }));
}
