import { isIP } from 'node:net';
import { isPrivateAddress } from './targets/address-policy.js';

export const MAX_ENDPOINT_URL_LENGTH = 2_048;

/**
 * Why `text` cannot be a webhook target, or undefined. Literal IPs are judged here already (a name's
 * addresses can change, so names are judged again at every connect).
 */
export function endpointUrlError(text: string, allowPrivateTargets: boolean): string | undefined {
  if (text.length > MAX_ENDPOINT_URL_LENGTH) return `must be at most ${MAX_ENDPOINT_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.hash) return 'must not contain a fragment';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivateTargets && isIP(host) && isPrivateAddress(host)) {
    return `${host} is a private, loopback or link-local address (HERALD_ALLOW_PRIVATE_TARGETS is off)`;
  }
  return undefined;
}
