import { describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { generateSecret, signedHeaders, verify, WebhookVerificationError } from '../src/index.js';

const body = JSON.stringify({ type: 'seatable.row.inserted', data: { name: 'Zoë' } });
const now = () => Math.floor(Date.now() / 1000);

describe('Standard Webhooks signatures', () => {
  it('generates whsec_ secrets of 24 to 64 bytes', () => {
    const secret = generateSecret(24);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(24);
    expect(() => generateSecret(16)).toThrow(RangeError);
  });

  it('produces signatures the standardwebhooks package accepts', async () => {
    const secret = generateSecret();
    const headers = await signedHeaders([secret], 'msg_1', now(), body);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('signs with every active secret so either verifies during rotation', async () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const headers = await signedHeaders([newSecret, oldSecret], 'msg_2', now(), body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(oldSecret).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(newSecret).verify(body, { ...headers })).not.toThrow();
  });

  it('verifies signatures made by the standardwebhooks package', async () => {
    const secret = generateSecret();
    const timestamp = new Date();
    const signature = new Webhook(secret).sign('msg_3', timestamp, body);
    const headers = {
      'webhook-id': 'msg_3',
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signature,
    };
    await expect(verify(secret, headers, body)).resolves.toBe('msg_3');
    await expect(verify(secret, new Headers(headers), new TextEncoder().encode(body))).resolves.toBe('msg_3');
  });

  it('rejects tampered bodies, wrong secrets, stale timestamps and missing headers', async () => {
    const secret = generateSecret();
    const headers = await signedHeaders([secret], 'msg_4', now(), body);
    await expect(verify(secret, headers, body + ' ')).rejects.toThrow(WebhookVerificationError);
    await expect(verify(generateSecret(), headers, body)).rejects.toThrow('no matching signature');
    const stale = await signedHeaders([secret], 'msg_4', now() - 600, body);
    await expect(verify(secret, stale, body)).rejects.toThrow('out of tolerance');
    await expect(verify(secret, { 'webhook-id': 'x' }, body)).rejects.toThrow('missing webhook headers');
  });
});
