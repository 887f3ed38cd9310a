import { describe, expect, it } from '@jest/globals';
import { generateSecret, signedHeaders } from '@herald/events';
import { Webhook } from 'standardwebhooks';
import { HeraldClientError, verifyWebhook } from '../src/index.js';

const event = {
  specversion: '1.0',
  id: '01a20908-12fe-72dd-bcfb-85f9c4aed6b5',
  seq: '7',
  type: 'a.b',
  data: { x: 'ü' },
};

describe(verifyWebhook.name, () => {
  it('returns the event for a body signed by the standardwebhooks package', async () => {
    const secret = generateSecret();
    const body = JSON.stringify(event);
    const now = new Date();
    const headers = {
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(event.id, now, body),
    };
    await expect(verifyWebhook(secret, headers, new TextEncoder().encode(body))).resolves.toEqual(event);
  });

  it('throws HeraldClientError with the cause for a tampered body', async () => {
    const secret = generateSecret();
    const body = JSON.stringify(event);
    const headers = await signedHeaders([secret], event.id, Math.floor(Date.now() / 1000), body);
    const error = await verifyWebhook(secret, headers, body.replace('ü', 'u')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeraldClientError);
    expect((error as HeraldClientError).code).toBe('invalid_signature');
    expect((error as HeraldClientError).cause).toBeInstanceOf(Error);
  });

  it('tells a secret that cannot be one from a forged webhook', async () => {
    const body = JSON.stringify(event);
    const headers = await signedHeaders([generateSecret()], event.id, Math.floor(Date.now() / 1000), body);
    await expect(verifyWebhook('whsec_not base64!', headers, body)).rejects.toThrow(TypeError);
    // Base64, but too short to be a secret Herald made (24 to 64 bytes).
    await expect(verifyWebhook('abc', headers, body)).rejects.toThrow(TypeError);
    await expect(verifyWebhook('whsec_c2hvcnQ=', headers, body)).rejects.toThrow(TypeError);
    const tooLong = `whsec_${Buffer.alloc(65, 1).toString('base64')}`;
    await expect(verifyWebhook(tooLong, headers, body)).rejects.toThrow(TypeError);
  });

  it('tells a body already parsed from a forged webhook', async () => {
    const secret = generateSecret();
    const body = JSON.stringify(event);
    const headers = await signedHeaders([secret], event.id, Math.floor(Date.now() / 1000), body);
    await expect(verifyWebhook(secret, headers, event as unknown as string)).rejects.toThrow(
      /rawBody must be the request body as received/,
    );
  });
});
