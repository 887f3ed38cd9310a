/**
 * Notifications encoded by the official Fishjam SDK's ts-proto codec (not ours), each with the event Herald must
 * make of it. SDK 0.25 has no MetricsReport, so metrics are encoded with Herald's own codec elsewhere.
 */
import { ServerMessage } from '@fishjam-cloud/js-server-sdk';

const ROOM = 'fbf4190c-5c76-415c-8939-52c6ed20868b';
const PEER = 'c7236587-5df8-4b41-b6e4-268e71133ee2';
const COMPONENT = 'hls-1';
// The SDK's enums are type-only exports; these are their wire values.
const TRACK_TYPE_VIDEO = 1;
const TRACK_TYPE_AUDIO = 2;
const PEER_TYPE_WEBRTC = 1;

export interface SdkNotificationCase {
  name: string;
  bytes: Uint8Array;
  expected: { type: string; subject?: string; data: Record<string, unknown> };
}

function sdkCase(
  name: string,
  message: ServerMessage,
  expected: SdkNotificationCase['expected'],
): SdkNotificationCase {
  return { name, bytes: ServerMessage.encode(message).finish(), expected };
}

const roomSubject = `rooms/${ROOM}`;
const peerSubject = `${roomSubject}/peers/${PEER}`;
const componentSubject = `${roomSubject}/components/${COMPONENT}`;

export const SDK_NOTIFICATIONS: readonly SdkNotificationCase[] = [
  sdkCase('RoomCreated', ServerMessage.fromPartial({ roomCreated: { roomId: ROOM } }), {
    type: 'jellyfish.room.created',
    subject: roomSubject,
    data: { roomId: ROOM },
  }),
  sdkCase('RoomDeleted', ServerMessage.fromPartial({ roomDeleted: { roomId: ROOM } }), {
    type: 'jellyfish.room.deleted',
    subject: roomSubject,
    data: { roomId: ROOM },
  }),
  sdkCase('RoomCrashed', ServerMessage.fromPartial({ roomCrashed: { roomId: ROOM } }), {
    type: 'jellyfish.room.crashed',
    subject: roomSubject,
    data: { roomId: ROOM },
  }),
  sdkCase('PeerAdded', ServerMessage.fromPartial({ peerAdded: { roomId: ROOM, peerId: PEER } }), {
    type: 'jellyfish.peer.added',
    subject: peerSubject,
    data: { roomId: ROOM, peerId: PEER },
  }),
  sdkCase('PeerDeleted', ServerMessage.fromPartial({ peerDeleted: { roomId: ROOM, peerId: PEER } }), {
    type: 'jellyfish.peer.deleted',
    subject: peerSubject,
    data: { roomId: ROOM, peerId: PEER },
  }),
  sdkCase(
    'PeerConnected (Fishjam Cloud peer_type)',
    ServerMessage.fromPartial({ peerConnected: { roomId: ROOM, peerId: PEER, peerType: PEER_TYPE_WEBRTC } }),
    {
      type: 'jellyfish.peer.connected',
      subject: peerSubject,
      data: { roomId: ROOM, peerId: PEER, peerType: 'webrtc' },
    },
  ),
  sdkCase(
    'PeerDisconnected',
    ServerMessage.fromPartial({ peerDisconnected: { roomId: ROOM, peerId: PEER } }),
    {
      type: 'jellyfish.peer.disconnected',
      subject: peerSubject,
      data: { roomId: ROOM, peerId: PEER },
    },
  ),
  sdkCase(
    'PeerCrashed',
    ServerMessage.fromPartial({
      peerCrashed: { roomId: ROOM, peerId: PEER, reason: 'Internal server error' },
    }),
    {
      type: 'jellyfish.peer.crashed',
      subject: peerSubject,
      data: { roomId: ROOM, peerId: PEER, reason: 'Internal server error' },
    },
  ),
  sdkCase(
    'PeerCrashed without reason (server < v0.5)',
    ServerMessage.fromPartial({ peerCrashed: { roomId: ROOM, peerId: PEER } }),
    {
      type: 'jellyfish.peer.crashed',
      subject: peerSubject,
      data: { roomId: ROOM, peerId: PEER, reason: null },
    },
  ),
  sdkCase(
    'PeerMetadataUpdated',
    ServerMessage.fromPartial({
      peerMetadataUpdated: { roomId: ROOM, peerId: PEER, metadata: '{"name":"Alice"}' },
    }),
    {
      type: 'jellyfish.peer.metadata_updated',
      subject: peerSubject,
      data: { roomId: ROOM, peerId: PEER, metadata: { name: 'Alice' } },
    },
  ),
  sdkCase(
    'ComponentCrashed',
    ServerMessage.fromPartial({ componentCrashed: { roomId: ROOM, componentId: COMPONENT } }),
    {
      type: 'jellyfish.component.crashed',
      subject: componentSubject,
      data: { roomId: ROOM, componentId: COMPONENT },
    },
  ),
  sdkCase(
    'TrackAdded (peer, audio)',
    ServerMessage.fromPartial({
      trackAdded: {
        roomId: ROOM,
        peerId: PEER,
        track: { id: 't1', type: TRACK_TYPE_AUDIO, metadata: '"mic"' },
      },
    }),
    {
      type: 'jellyfish.track.added',
      subject: peerSubject,
      data: { roomId: ROOM, peerId: PEER, track: { id: 't1', type: 'audio', metadata: 'mic' } },
    },
  ),
  sdkCase(
    'TrackRemoved (component, video)',
    ServerMessage.fromPartial({
      trackRemoved: {
        roomId: ROOM,
        componentId: COMPONENT,
        track: { id: 't2', type: TRACK_TYPE_VIDEO, metadata: 'null' },
      },
    }),
    {
      type: 'jellyfish.track.removed',
      subject: componentSubject,
      data: { roomId: ROOM, componentId: COMPONENT, track: { id: 't2', type: 'video', metadata: null } },
    },
  ),
  sdkCase(
    'TrackMetadataUpdated',
    ServerMessage.fromPartial({
      trackMetadataUpdated: {
        roomId: ROOM,
        peerId: PEER,
        track: { id: 't1', type: TRACK_TYPE_VIDEO, metadata: '{"muted":true}' },
      },
    }),
    {
      type: 'jellyfish.track.metadata_updated',
      subject: peerSubject,
      data: { roomId: ROOM, peerId: PEER, track: { id: 't1', type: 'video', metadata: { muted: true } } },
    },
  ),
  sdkCase(
    'HlsPlayable',
    ServerMessage.fromPartial({ hlsPlayable: { roomId: ROOM, componentId: COMPONENT } }),
    {
      type: 'jellyfish.hls.playable',
      subject: componentSubject,
      data: { roomId: ROOM, componentId: COMPONENT },
    },
  ),
  sdkCase('HlsUploaded', ServerMessage.fromPartial({ hlsUploaded: { roomId: ROOM } }), {
    type: 'jellyfish.hls.uploaded',
    subject: roomSubject,
    data: { roomId: ROOM },
  }),
  sdkCase('HlsUploadCrashed', ServerMessage.fromPartial({ hlsUploadCrashed: { roomId: ROOM } }), {
    type: 'jellyfish.hls.upload_crashed',
    subject: roomSubject,
    data: { roomId: ROOM },
  }),
  sdkCase(
    'ViewerConnected (Fishjam Cloud, no Herald type)',
    ServerMessage.fromPartial({ viewerConnected: { streamId: 's1', viewerId: 'v1' } }),
    {
      type: 'jellyfish.unknown',
      data: {
        reason: 'no_herald_type',
        kind: 'viewerConnected',
        message: { viewerConnected: { streamId: 's1', viewerId: 'v1' } },
      },
    },
  ),
];

export const SDK_IDS = { ROOM, PEER, COMPONENT };
