import { decodeSecret, type HeraldEvent, verify, type VerifyOptions } from '@herald/events';
import { HeraldClientError } from './errors.js';

const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const SECRET_EXPECTED = 'secret must be the endpoint secret Herald showed (whsec_ followed by base64)';

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
  // A secret that cannot be one, or a body already parsed, is the receiver's configuration, not a forged
  // webhook: said apart, so a receiver does not reject every webhook as forged while it is set up wrong.
  let keyBytes: number;
  try {
    keyBytes = decodeSecret(secret).length;
  } catch (error) {
    throw new TypeError(SECRET_EXPECTED, { cause: error });
  }
  // Herald's secrets have 24 to 64 bytes; `abc`, say, decodes as base64 but is none of them.
  if (keyBytes < MIN_SECRET_BYTES || keyBytes > MAX_SECRET_BYTES) throw new TypeError(SECRET_EXPECTED);
  if (typeof rawBody !== 'string' && !(rawBody instanceof Uint8Array)) {
    throw new TypeError('rawBody must be the request body as received (a string or bytes), not parsed JSON');
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
