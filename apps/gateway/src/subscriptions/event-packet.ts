import { EVENTS_NAMESPACE, type HeraldEvent } from '@herald/events';

/**
 * The Socket.IO (protocol v5) text packet for `emit('event', {subscription, event})` on `/events` is
 * `2/events,["event",{"subscription":…,"event":…}]`. Building it by hand lets fan-out serialize each
 * event once for all subscribers instead of once per socket (socket.io encodes every emit separately);
 * the bytes on the wire are exactly what `socket.emit` would send.
 */
const PREFIX = `2${EVENTS_NAMESPACE},["event",{"subscription":`;
const SUFFIX = '}]';
/** Engine.IO's `message` packet type, which a WebSocket frame carries before the Socket.IO packet. */
const ENGINE_MESSAGE = '4';

/** Whom a packet is for: its head names the subscription, so it differs per subscriber. */
export interface PacketTarget {
  readonly id: string;
}

/** A subscription's packet up to the event's JSON: as text, and as the UTF-8 start of a frame's payload. */
interface PacketHead {
  text: string;
  frameBytes: Buffer;
}

/** RFC 6455 §5.2: FIN and the text opcode; a server's frames are not masked. */
const FINAL_TEXT_FRAME = 0x81;

/**
 * The header of an unmasked final text frame with a payload of `length` bytes, followed by `room`
 * bytes left for the caller to fill.
 */
function frameHeader(length: number, room: number): { buffer: Buffer; offset: number } {
  const offset = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const buffer = Buffer.allocUnsafe(offset + room);
  buffer[0] = FINAL_TEXT_FRAME;
  if (offset === 2) buffer[1] = length;
  else if (offset === 4) {
    buffer[1] = 126;
    buffer.writeUInt16BE(length, 2);
  } else {
    buffer[1] = 127;
    buffer.writeBigUInt64BE(BigInt(length), 2);
  }
  return { buffer, offset };
}

/** What `EngineSocket.write` takes for one event packet: its text, and the same bytes as a WebSocket frame. */
export interface EncodedEventPacket {
  data: string;
  /** engine.io's option for frames encoded once for many sockets (socket.io's broadcasts use it). */
  options: { wsPreEncodedFrame: [Buffer, Buffer] };
}

/**
 * Encodes each event of a batch once, however many subscriptions it goes to: its JSON, and that JSON's
 * UTF-8 bytes as the shared tail of every WebSocket frame that carries it. Per socket only the frame
 * header is new, followed by a copy of the packet's head (which names the subscription, ~80 bytes),
 * encoded once per subscription. Without this, `ws` encoded the whole packet to UTF-8 again for every
 * socket: 70 MB for one 70 KB event to 1,000 subscribers. (At the bench's ~700-byte events the saving
 * is within the noise; docs/performance.md.)
 * Polling transports still send `data`; the frame is only used on a WebSocket without compression.
 */
export class EventPacketEncoder {
  private readonly encoded = new WeakMap<HeraldEvent, { json: string; tail: Buffer }>();
  /** Built once per subscription rather than once per packet: fan-out sends it with every event. */
  private readonly heads = new WeakMap<PacketTarget, PacketHead>();

  encode(target: PacketTarget, event: HeraldEvent): EncodedEventPacket {
    let encoded = this.encoded.get(event);
    if (encoded === undefined) {
      const json = JSON.stringify(event);
      encoded = { json, tail: Buffer.from(`${json}${SUFFIX}`) };
      this.encoded.set(event, encoded);
    }
    const { json, tail } = encoded;
    const head = this.head(target);
    const { buffer, offset } = frameHeader(head.frameBytes.length + tail.length, head.frameBytes.length);
    head.frameBytes.copy(buffer, offset);
    return { data: `${head.text}${json}${SUFFIX}`, options: { wsPreEncodedFrame: [buffer, tail] } };
  }

  private head(target: PacketTarget): PacketHead {
    let head = this.heads.get(target);
    if (head === undefined) {
      const text = `${PREFIX}${JSON.stringify(target.id)},"event":`;
      head = { text, frameBytes: Buffer.from(`${ENGINE_MESSAGE}${text}`) };
      this.heads.set(target, head);
    }
    return head;
  }
}
