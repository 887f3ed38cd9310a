import { describe, expect, it } from '@jest/globals';
import type { HeraldEvent } from '@herald/events';
import { Encoder, PacketType } from 'socket.io-parser';
import * as ws from 'ws';
import { EventPacketEncoder } from '../src/subscriptions/event-packet.js';

const event = (data: Record<string, unknown>): HeraldEvent =>
  ({ id: 'e', type: 't', data }) as unknown as HeraldEvent;

/** What socket.io itself sends for `emit('event', {subscription, event})` on `/events`. */
function socketIoPacket(subscription: string, e: HeraldEvent): string {
  const [packet] = new Encoder().encode({
    type: PacketType.EVENT,
    nsp: '/events',
    data: ['event', { subscription, event: e }],
  });
  return packet as string;
}

/** `ws`'s own framing (`Sender.frame`), which its typings do not declare. */
const { Sender } = ws as unknown as {
  Sender: {
    frame(
      data: Buffer,
      options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
    ): Buffer[];
  };
};

/** The frame `ws` itself builds when engine.io sends the packet text (`4` + Socket.IO packet). */
function wsFrame(text: string): Buffer {
  return Buffer.concat(
    Sender.frame(Buffer.from(text), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }),
  );
}

/** An event whose WebSocket payload (`4` + its packet for subscription `sub-1`) is `bytes` long. */
function eventOfPayload(bytes: number, filler = 'x'): HeraldEvent {
  const overhead = Buffer.byteLength(`4${socketIoPacket('sub-1', event({ text: '' }))}`);
  return event({ text: filler.repeat((bytes - overhead) / Buffer.byteLength(filler)) });
}

describe(EventPacketEncoder.name, () => {
  // Around each change of the length encoding: 7-bit up to 125, 16-bit up to 65,535, 64-bit beyond.
  it.each([125, 126, 127, 1_000, 65_535, 65_536, 70_000])(
    'frames a payload of %i bytes exactly as ws would',
    (bytes) => {
      const e = eventOfPayload(bytes);
      const { data, options } = new EventPacketEncoder().encode({ id: 'sub-1' }, e);
      expect(Buffer.byteLength(`4${data}`)).toBe(bytes);
      expect(data).toBe(socketIoPacket('sub-1', e));
      expect(Buffer.concat(options.wsPreEncodedFrame)).toEqual(wsFrame(`4${data}`));
    },
  );

  it('counts the bytes of multi-byte UTF-8, not its characters', () => {
    const e = eventOfPayload(65_536 + 4 * 10, '🎉');
    const { data, options } = new EventPacketEncoder().encode({ id: 'sub-1' }, e);
    expect(data.length).toBeLessThan(65_536);
    expect(Buffer.concat(options.wsPreEncodedFrame)).toEqual(wsFrame(`4${data}`));
  });

  it("encodes a subscription's head once and frames each of its events exactly", () => {
    const encoder = new EventPacketEncoder();
    const subscription = { id: 'sub-1' };
    const events = [event({ n: 1 }), eventOfPayload(70_000), event({ text: 'Grüße 🎉' })];
    for (const e of events) {
      const { data, options } = encoder.encode(subscription, e);
      expect(data).toBe(socketIoPacket('sub-1', e));
      expect(Buffer.concat(options.wsPreEncodedFrame)).toEqual(wsFrame(`4${data}`));
    }
  });

  it('shares one encoding of the event among subscriptions, each frame naming its own', () => {
    const encoder = new EventPacketEncoder();
    const e = event({ n: 1 });
    const [a, b] = ['sub-a', 'sub-b'].map((id) => encoder.encode({ id }, e));
    expect(a!.options.wsPreEncodedFrame[1]).toBe(b!.options.wsPreEncodedFrame[1]);
    expect(JSON.parse(a!.data.slice(a!.data.indexOf('[')))).toEqual([
      'event',
      { subscription: 'sub-a', event: e },
    ]);
    expect(Buffer.concat(b!.options.wsPreEncodedFrame)).toEqual(wsFrame(`4${b!.data}`));
  });
});
