import { describe, expect, it } from '@jest/globals';
import { AdapterError, type WebhookRequest } from '@herald/events';
import { jellyfishAdapter } from '../src/index.js';
import {
  encodeNotificationBatch,
  encodeServerMessage,
  encodeV03JsonBody,
  fishjamSignature,
} from '../src/testing/index.js';
import { SDK_IDS, SDK_NOTIFICATIONS } from './support/sdk-notifications.js';

const { ROOM, PEER } = SDK_IDS;

function request(
  body: Uint8Array,
  contentType = 'application/x-protobuf',
  headers: Record<string, string> = {},
): WebhookRequest {
  return { body, contentType, headers: { 'content-type': contentType, ...headers } };
}

function parse(req: WebhookRequest, config: Record<string, unknown> = {}) {
  return jellyfishAdapter.parseWebhook(req, config);
}

function adapterErrorCode(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof AdapterError) return error.code;
    throw error;
  }
  throw new Error('expected an AdapterError');
}

describe('jellyfish webhooks: application/x-protobuf', () => {
  it.each(SDK_NOTIFICATIONS.map((c) => [c.name, c] as const))('decodes SDK-encoded %s', (_name, sdkCase) => {
    const events = parse(request(sdkCase.bytes));
    expect(events).toEqual([
      { ...sdkCase.expected, raw: { body: sdkCase.bytes, contentType: 'application/x-protobuf' } },
    ]);
  });

  it('unwraps a NotificationBatch in order, each event keeping its own notification bytes', () => {
    const notifications = SDK_NOTIFICATIONS.slice(0, 4).map((c) => c.bytes);
    const events = parse(request(encodeNotificationBatch(notifications)));
    expect(events.map((event) => event.type)).toEqual(
      SDK_NOTIFICATIONS.slice(0, 4).map((c) => c.expected.type),
    );
    expect(events.map((event) => event.raw?.body)).toEqual(notifications);
  });

  it('turns a notification kind newer than its schema into jellyfish.unknown with the bytes kept', () => {
    // Field 34 (RecordingStatusChanged, newer than NotificationBatch) with an empty message.
    const body = Uint8Array.from([0x92, 0x02, 0x00]);
    expect(parse(request(body))).toEqual([
      {
        type: 'jellyfish.unknown',
        data: { reason: 'unknown_content', fields: [34] },
        raw: { body, contentType: 'application/x-protobuf' },
      },
    ]);
  });

  it('ends the subject before an id the server left empty, rather than naming rooms/ or …/peers/', () => {
    const subjects = [
      encodeServerMessage({ case: 'roomCreated', value: { roomId: '' } }),
      encodeServerMessage({ case: 'peerConnected', value: { roomId: ROOM, peerId: '' } }),
      encodeServerMessage({ case: 'peerConnected', value: { roomId: '', peerId: PEER } }),
      encodeServerMessage({ case: 'componentCrashed', value: { roomId: ROOM, componentId: '' } }),
    ].map((body) => parse(request(body))[0]?.subject);
    expect(subjects).toEqual([undefined, `rooms/${ROOM}`, undefined, `rooms/${ROOM}`]);
  });

  it('drops websocket handshake messages instead of storing them (an AuthRequest carries a token)', () => {
    const handshake = [
      encodeServerMessage({ case: 'authRequest', value: { token: 'development' } }),
      encodeServerMessage({ case: 'authenticated', value: {} }),
      encodeServerMessage({ case: 'subscribeRequest', value: { eventType: 1 } }),
      encodeServerMessage({ case: 'subscribeResponse', value: { eventType: 1 } }),
    ];
    for (const body of handshake) expect(parse(request(body))).toEqual([]);
  });

  it.each([
    ['truncated', SDK_NOTIFICATIONS[5]!.bytes.subarray(0, 20)],
    ['garbage', Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])],
    ['nested batch', encodeNotificationBatch([encodeNotificationBatch([SDK_NOTIFICATIONS[0]!.bytes])])],
    [
      'batch with one truncated notification',
      encodeNotificationBatch([SDK_NOTIFICATIONS[0]!.bytes]).subarray(0, 30),
    ],
  ])('rejects a %s body with invalid_body', (_name, body) => {
    expect(adapterErrorCode(() => parse(request(body)))).toBe('invalid_body');
  });

  it('refuses other media types', () => {
    expect(adapterErrorCode(() => parse(request(SDK_NOTIFICATIONS[0]!.bytes, 'text/plain')))).toBe(
      'unsupported_media_type',
    );
  });
});

describe('jellyfish webhooks: v0.3.0 application/json', () => {
  it('decodes the RoomCreated body exactly as Jason wrote it', () => {
    const body = new TextEncoder().encode(`{"notification":"R&\\n$${ROOM}"}`);
    const [event] = parse(request(body, 'application/json'));
    expect(event).toMatchObject({
      type: 'jellyfish.room.created',
      subject: `rooms/${ROOM}`,
      data: { roomId: ROOM },
    });
    expect(Buffer.from(event!.raw!.body).subarray(0, 4).toString('hex')).toBe('52260a24');
    expect(event!.raw!.contentType).toBe('application/x-protobuf');
  });

  it('decodes control bytes written as \\u escapes (PeerConnected)', () => {
    const body = new TextEncoder().encode(`{"notification":"\\u0012L\\n$${ROOM}\\u0012$${PEER}"}`);
    expect(parse(request(body, 'application/json'))).toMatchObject([
      {
        type: 'jellyfish.peer.connected',
        subject: `rooms/${ROOM}/peers/${PEER}`,
        data: { roomId: ROOM, peerId: PEER },
      },
    ]);
  });

  it('decodes every v0.3.0 notification kind through the JSON wrapper', () => {
    // v0.3.0 had fields 1-15 only, whose bytes stay valid UTF-8 with short ids.
    for (const sdkCase of SDK_NOTIFICATIONS.filter((c) => c.bytes.every((byte) => byte < 0x80))) {
      const events = parse(request(encodeV03JsonBody(sdkCase.bytes), 'application/json'));
      expect(events).toEqual([
        { ...sdkCase.expected, raw: { body: sdkCase.bytes, contentType: 'application/x-protobuf' } },
      ]);
    }
  });

  it('rejects an application/json body that does not parse with invalid_json', () => {
    expect(
      adapterErrorCode(() =>
        parse(request(new TextEncoder().encode('{"notification":'), 'application/json')),
      ),
    ).toBe('invalid_json');
  });

  it.each([
    ['no notification field', '{"other":"x"}'],
    ['a non-string notification', '{"notification":42}'],
    ['JSON null', 'null'],
    ['a notification that is not protobuf', '{"notification":"\\u00ff\\u00ff"}'],
  ])('rejects %s with invalid_body', (_name, text) => {
    expect(adapterErrorCode(() => parse(request(new TextEncoder().encode(text), 'application/json')))).toBe(
      'invalid_body',
    );
  });
});

describe('jellyfish webhooks: Fishjam Cloud signatures', () => {
  const secret = 'whsec-fishjam-test-secret';
  const body = SDK_NOTIFICATIONS[0]!.bytes;

  it('accepts a body signed with the configured secret', () => {
    const events = parse(
      request(body, 'application/x-protobuf', { 'x-fishjam-signature-256': fishjamSignature(body, secret) }),
      {
        signingSecret: secret,
      },
    );
    expect(events.map((event) => event.type)).toEqual(['jellyfish.room.created']);
  });

  it('requires the header when a secret is configured', () => {
    expect(adapterErrorCode(() => parse(request(body), { signingSecret: secret }))).toBe('missing_signature');
  });

  it.each([
    ['another secret', fishjamSignature(body, 'other-secret')],
    ['another body', fishjamSignature(Uint8Array.from([1, 2, 3]), secret)],
    ['no sha256= prefix', fishjamSignature(body, secret).slice('sha256='.length)],
    ['a truncated digest', fishjamSignature(body, secret).slice(0, -2)],
  ])('rejects a signature made with %s', (_name, signature) => {
    const req = request(body, 'application/x-protobuf', { 'x-fishjam-signature-256': signature });
    expect(adapterErrorCode(() => parse(req, { signingSecret: secret }))).toBe('invalid_signature');
  });

  it('checks the signature before the body, so an unsigned bad body is a signature error', () => {
    expect(adapterErrorCode(() => parse(request(Uint8Array.from([0xff])), { signingSecret: secret }))).toBe(
      'missing_signature',
    );
  });

  it('ignores the header when no secret is configured (self-hosted servers sign nothing)', () => {
    expect(
      parse(request(body, 'application/x-protobuf', { 'x-fishjam-signature-256': 'sha256=00' })),
    ).toHaveLength(1);
  });
});
