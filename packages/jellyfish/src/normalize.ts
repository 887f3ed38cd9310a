import { toJson } from '@bufbuild/protobuf';
import type { NormalizedEvent } from '@herald/events';
import type { EncodedNotification } from './decode.js';
import type {
  JellyfishComponentData,
  JellyfishPeerData,
  JellyfishPeerType,
  JellyfishRoomData,
  JellyfishTrack,
  JellyfishTrackData,
  JellyfishUnknownData,
} from './event-data.js';
import {
  ServerMessageSchema,
  ServerMessage_PeerType,
  ServerMessage_TrackType,
  type ServerMessage_Track,
  type ServerMessage_TrackAdded,
} from './gen/jellyfish/server_notifications_pb.js';

export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';

type EventWithoutRaw = Omit<NormalizedEvent, 'raw'>;
type PeerNotification = { roomId: string; peerId: string; peerType: ServerMessage_PeerType };
/** TrackAdded, TrackRemoved and TrackMetadataUpdated share this shape. */
type TrackNotification = Pick<ServerMessage_TrackAdded, 'roomId' | 'endpointInfo' | 'track'>;

/**
 * Turns one notification into its `jellyfish.*` event, keeping the notification's own bytes as `raw`.
 * Returns undefined for the websocket handshake messages (auth, subscribe), which are protocol, not events.
 */
export function normalizeNotification(notification: EncodedNotification): NormalizedEvent | undefined {
  const event = describe(notification);
  return event && { ...event, raw: { body: notification.bytes, contentType: PROTOBUF_CONTENT_TYPE } };
}

export function unknownEvent(
  raw: NonNullable<NormalizedEvent['raw']>,
  data: JellyfishUnknownData,
): NormalizedEvent {
  return { type: 'jellyfish.unknown', data, raw };
}

function describe({ message }: EncodedNotification): EventWithoutRaw | undefined {
  const { content } = message;
  switch (content.case) {
    case 'roomCreated':
      return roomEvent('jellyfish.room.created', content.value.roomId);
    case 'roomDeleted':
      return roomEvent('jellyfish.room.deleted', content.value.roomId);
    case 'roomCrashed':
      return roomEvent('jellyfish.room.crashed', content.value.roomId);
    case 'peerAdded':
      return peerEvent('jellyfish.peer.added', content.value);
    case 'peerDeleted':
      return peerEvent('jellyfish.peer.deleted', content.value);
    case 'peerConnected':
      return peerEvent('jellyfish.peer.connected', content.value);
    case 'peerDisconnected':
      return peerEvent('jellyfish.peer.disconnected', content.value);
    case 'peerCrashed':
      return peerEvent('jellyfish.peer.crashed', content.value, { reason: content.value.reason || null });
    case 'peerMetadataUpdated':
      return peerEvent('jellyfish.peer.metadata_updated', content.value, {
        metadata: parseJsonString(content.value.metadata),
      });
    case 'componentCrashed':
      return componentEvent('jellyfish.component.crashed', content.value.roomId, content.value.componentId);
    case 'trackAdded':
      return trackEvent('jellyfish.track.added', content.value);
    case 'trackRemoved':
      return trackEvent('jellyfish.track.removed', content.value);
    case 'trackMetadataUpdated':
      return trackEvent('jellyfish.track.metadata_updated', content.value);
    case 'hlsPlayable':
      return componentEvent('jellyfish.hls.playable', content.value.roomId, content.value.componentId);
    case 'hlsUploaded':
      return roomEvent('jellyfish.hls.uploaded', content.value.roomId);
    case 'hlsUploadCrashed':
      return roomEvent('jellyfish.hls.upload_crashed', content.value.roomId);
    case 'metricsReport':
      return { type: 'jellyfish.metrics.report', data: { metrics: parseJsonString(content.value.metrics) } };
    case 'authenticated':
    case 'authRequest':
    case 'subscribeRequest':
    case 'subscribeResponse':
      return undefined;
    // Fishjam Cloud kinds outside the contract's type catalogue; decodeNotifications already unwraps batches.
    case 'streamConnected':
    case 'streamDisconnected':
    case 'viewerConnected':
    case 'viewerDisconnected':
    case 'streamerConnected':
    case 'streamerDisconnected':
    case 'channelAdded':
    case 'channelRemoved':
    case 'trackForwarding':
    case 'trackForwardingRemoved':
    case 'vadNotification':
    case 'notificationBatch':
      return unknownData({
        reason: 'no_herald_type',
        kind: content.case,
        message: toJson(ServerMessageSchema, message),
      });
    case undefined:
      // The field numbers say which newer kind it was (34: RecordingStatusChanged), without decoding `raw`.
      return unknownData({
        reason: 'unknown_content',
        fields: (message.$unknown ?? []).map((field) => field.no),
      });
    default:
      return assertNever(content);
  }
}

function roomEvent(type: string, roomId: string): EventWithoutRaw {
  const data: JellyfishRoomData = { roomId };
  return { type, subject: subjectOf(roomId), data };
}

function peerEvent(
  type: string,
  peer: PeerNotification,
  extra: Record<string, unknown> = {},
): EventWithoutRaw {
  const peerType = peerTypeName(peer.peerType);
  const data: JellyfishPeerData = { roomId: peer.roomId, peerId: peer.peerId, ...(peerType && { peerType }) };
  return { type, subject: subjectOf(peer.roomId, 'peers', peer.peerId), data: { ...data, ...extra } };
}

function componentEvent(type: string, roomId: string, componentId: string): EventWithoutRaw {
  const data: JellyfishComponentData = { roomId, componentId };
  return { type, subject: subjectOf(roomId, 'components', componentId), data };
}

function trackEvent(type: string, notification: TrackNotification): EventWithoutRaw {
  const { roomId, endpointInfo } = notification;
  const track = notification.track ? trackData(notification.track) : null;
  switch (endpointInfo.case) {
    case 'peerId': {
      const data: JellyfishTrackData = { roomId, peerId: endpointInfo.value, track };
      return { type, subject: subjectOf(roomId, 'peers', endpointInfo.value), data };
    }
    case 'componentId': {
      const data: JellyfishTrackData = { roomId, componentId: endpointInfo.value, track };
      return { type, subject: subjectOf(roomId, 'components', endpointInfo.value), data };
    }
    case undefined: {
      const data: JellyfishTrackData = { roomId, track };
      return { type, subject: subjectOf(roomId), data };
    }
  }
}

function trackData(track: ServerMessage_Track): JellyfishTrack {
  return { id: track.id, type: trackTypeName(track.type), metadata: parseJsonString(track.metadata) };
}

function trackTypeName(type: ServerMessage_TrackType): JellyfishTrack['type'] {
  switch (type) {
    case ServerMessage_TrackType.AUDIO:
      return 'audio';
    case ServerMessage_TrackType.VIDEO:
      return 'video';
    default:
      return null;
  }
}

function peerTypeName(type: ServerMessage_PeerType): JellyfishPeerType | undefined {
  switch (type) {
    case ServerMessage_PeerType.WEBRTC:
      return 'webrtc';
    case ServerMessage_PeerType.AGENT:
      return 'agent';
    case ServerMessage_PeerType.VAPI:
      return 'vapi';
    default:
      return undefined;
  }
}

function unknownData(data: JellyfishUnknownData): EventWithoutRaw {
  return { type: 'jellyfish.unknown', data };
}

/**
 * `rooms/<room>[/<peers|components>/<id>]`. Protobuf sends a missing id as '', and a subject like
 * `rooms/` or `rooms/r/peers/` would name nothing: the path ends before the first empty id (none at
 * all without a room).
 */
function subjectOf(roomId: string, kind?: 'peers' | 'components', id?: string): string | undefined {
  if (!roomId) return undefined;
  return kind && id ? `rooms/${roomId}/${kind}/${id}` : `rooms/${roomId}`;
}

/**
 * The server JSON-encodes metadata and metrics into string fields. An empty string is a field the server
 * did not set (proto3 default), so it becomes null; text that is not JSON is kept as the string itself.
 */
function parseJsonString(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled ServerMessage content: ${JSON.stringify(value)}`);
}
