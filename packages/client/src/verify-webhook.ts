import { decodeSecret, type HeraldEvent, verify, type VerifyOptions } from '@herald/events';
import { HeraldClientError } from './errors.js';

/**
 * For outbound-webhook receivers: checks the Standard Webhooks headers Herald sent against the raw
 * request body (exact bytes, before any JSON parsing) and returns the event.
 */
export async function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined> | Headers,
  rawBody: string | Uint8Array,
  options?: VerifyOptions,
): Promise<HeraldEvent> {
  // A secret that cannot be one is the receiver's configuration, not a forged webhook: said apart, so a
  // receiver does not reject every webhook as forged while its secret is mistyped.
  try {
    decodeSecret(secret);
  } catch (error) {
    throw new TypeError('secret must be the endpoint secret Herald showed (whsec_ followed by base64)', {
      cause: error,
    });
  }
  try {
    await verify(secret, headers, rawBody, options);
  } catch (error) {
    throw new HeraldClientError('invalid_signature', 'the webhook signature does not verify', {
      cause: error,
    });
  }
  const text = typeof rawBody === 'string' ? rawBody : new TextDecoder().decode(rawBody);
  return JSON.parse(text) as HeraldEvent;
}
