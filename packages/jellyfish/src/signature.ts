import { createHmac, timingSafeEqual } from 'node:crypto';
import { AdapterError } from '@herald/events';

/** Fishjam Cloud signs every webhook body: `sha256=<lowercase hex HMAC-SHA256(raw body, webhook secret)>`. */
export const FISHJAM_SIGNATURE_HEADER = 'x-fishjam-signature-256';

const SIGNATURE_FORMAT = /^sha256=([0-9a-f]{64})$/i;

export function fishjamSignature(body: Uint8Array, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Throws `missing_signature` or `invalid_signature` unless the header signs exactly these bytes. */
export function verifyFishjamSignature(body: Uint8Array, header: string | undefined, secret: string): void {
  if (header === undefined || header.trim() === '') {
    throw new AdapterError('missing_signature', `${FISHJAM_SIGNATURE_HEADER} header is required`);
  }
  const match = SIGNATURE_FORMAT.exec(header.trim());
  const expected = createHmac('sha256', secret).update(body).digest();
  // Both buffers are 32 bytes whenever the format matched, so timingSafeEqual cannot throw.
  if (!match?.[1] || !timingSafeEqual(Buffer.from(match[1], 'hex'), expected)) {
    throw new AdapterError('invalid_signature', `${FISHJAM_SIGNATURE_HEADER} does not match the body`);
  }
}
