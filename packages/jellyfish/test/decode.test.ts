import { describe, expect, it } from '@jest/globals';
import { decodeNotifications, MalformedNotificationError } from '../src/decode.js';
import { encodeServerMessage, ServerMessage_EventType } from '../src/testing/index.js';

const ROOM = 'fbf4190c-5c76-415c-8939-52c6ed20868b';
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('ServerMessage codec against the wire vectors in the research notes', () => {
  it.each([
    [
      'AuthRequest{token:"development"}',
      { case: 'authRequest', value: { token: 'development' } },
      '3a0d0a0b646576656c6f706d656e74',
    ],
    ['Authenticated{}', { case: 'authenticated', value: {} }, '3200'],
    [
      'SubscribeRequest{SERVER_NOTIFICATION}',
      { case: 'subscribeRequest', value: { eventType: ServerMessage_EventType.SERVER_NOTIFICATION } },
      '42020801',
    ],
    [
      'SubscribeRequest{METRICS}',
      { case: 'subscribeRequest', value: { eventType: ServerMessage_EventType.METRICS } },
      '42020802',
    ],
    [
      'RoomCreated',
      { case: 'roomCreated', value: { roomId: ROOM } },
      `52260a24${Buffer.from(ROOM).toString('hex')}`,
    ],
  ] as const)('encodes and decodes %s', (_name, content, expectedHex) => {
    const bytes = encodeServerMessage(content);
    expect(hex(bytes)).toBe(expectedHex);
    const [decoded] = decodeNotifications(Buffer.from(expectedHex, 'hex'));
    expect(decoded!.message.content).toEqual(expect.objectContaining({ case: content.case }));
  });

  it('uses two-byte tags from field 16 on (TrackAdded starts 8a 01)', () => {
    expect(hex(encodeServerMessage({ case: 'trackAdded', value: { roomId: 'r' } })).slice(0, 4)).toBe('8a01');
  });

  it('throws MalformedNotificationError for bytes that are not a ServerMessage', () => {
    expect(() => decodeNotifications(Uint8Array.from([0x52, 0x26, 0x0a]))).toThrow(
      MalformedNotificationError,
    );
  });
});
