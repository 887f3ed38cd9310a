/**
 * The `data` of each `jellyfish.*` event (contract §4). Ids are the server's strings; JSON strings the
 * server encodes (metadata, metrics) arrive parsed.
 */
import type { JsonValue } from '@bufbuild/protobuf';

export type JellyfishPeerType = 'webrtc' | 'agent' | 'vapi';
export type JellyfishTrackType = 'audio' | 'video';

/** `jellyfish.room.created|deleted|crashed`, `jellyfish.hls.uploaded|upload_crashed`. */
export type JellyfishRoomData = { roomId: string };

/** `jellyfish.peer.added|deleted|connected|disconnected`. `peerType` only from Fishjam Cloud. */
export type JellyfishPeerData = { roomId: string; peerId: string; peerType?: JellyfishPeerType };

/** `jellyfish.peer.crashed`. `reason` is null before server v0.5.0 and when the server gave none. */
export type JellyfishPeerCrashedData = JellyfishPeerData & { reason: string | null };

/** `jellyfish.peer.metadata_updated`. */
export type JellyfishPeerMetadataUpdatedData = JellyfishPeerData & { metadata: unknown };

/** `jellyfish.component.crashed`, `jellyfish.hls.playable`. */
export type JellyfishComponentData = { roomId: string; componentId: string };

export type JellyfishTrack = {
  id: string;
  /** null when the server left the type unspecified. */
  type: JellyfishTrackType | null;
  metadata: unknown;
};

/** `jellyfish.track.added|removed|metadata_updated`: the track's owner is a peer or a component. */
export type JellyfishTrackData = {
  roomId: string;
  peerId?: string;
  componentId?: string;
  track: JellyfishTrack | null;
};

/** `jellyfish.metrics.report` (stream sources with `metrics: true`). */
export type JellyfishMetricsReportData = { metrics: unknown };

/**
 * `jellyfish.unknown`, with the bytes kept as `raw`:
 * - `unknown_content`: a notification kind newer than Herald's schema (the oneof decoded empty); `fields`
 *   are the `ServerMessage` field numbers Herald's schema does not know, the kind's among them;
 * - `no_herald_type`: a Fishjam Cloud notification Herald decodes but has no type name for (`kind` is the
 *   oneof case, `message` its protobuf-JSON form);
 * - `undecodable`: a websocket frame that is not a protobuf `ServerMessage` (`error` says why).
 */
export type JellyfishUnknownData = {
  reason: 'unknown_content' | 'no_herald_type' | 'undecodable';
  kind?: string;
  fields?: number[];
  message?: JsonValue;
  error?: string;
};
