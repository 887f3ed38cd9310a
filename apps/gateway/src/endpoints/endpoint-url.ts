import { isIP } from 'node:net';
import { isPrivateAddress } from './targets/address-policy.js';

export const MAX_ENDPOINT_URL_LENGTH = 2_048;

/** `localhost` and `*.localhost` mean this host whatever DNS says (RFC 6761 §6.3), final dot or not. */
function isLocalhostName(host: string): boolean {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * Why `text` cannot be a webhook target, or undefined. Literal IPs and the localhost names are judged
 * here already (other names' addresses can change, so names are judged again at every connect). The
 * URL parser has already turned IPv4 in any spelling (`127.1`, `0x7f.0.0.1`, `2130706433`) into dotted
 * decimal and IPv6 into its short form.
 */
export function endpointUrlError(text: string, allowPrivateTargets: boolean): string | undefined {
  if (text.length > MAX_ENDPOINT_URL_LENGTH) return `must be at most ${MAX_ENDPOINT_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute http or https URL';
  }
  // Stored as the parser writes it, which can be longer (`%20` for each space).
  if (url.href.length > MAX_ENDPOINT_URL_LENGTH)
    return `must be at most ${MAX_ENDPOINT_URL_LENGTH} characters`;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.hash) return 'must not contain a fragment';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (allowPrivateTargets) return undefined;
  if (isIP(host) && isPrivateAddress(host)) {
    return `${host} is a private, loopback or link-local address (HERALD_ALLOW_PRIVATE_TARGETS is off)`;
  }
  if (isLocalhostName(host)) {
    return `${host} always names this host, a loopback address (HERALD_ALLOW_PRIVATE_TARGETS is off)`;
  }
  return undefined;
}
