import { isIP } from 'node:net';
import { isPrivateAddress } from './targets/address-policy.js';

export const MAX_ENDPOINT_URL_LENGTH = 2_048;

/** `localhost` and `*.localhost` mean this host whatever DNS says (RFC 6761 §6.3), final dot or not. */
function isLocalhostName(host: string): boolean {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * `text` as a webhook target is stored and called: the parser's form (blanks trimmed, spaces encoded,
 * `http:/host` mended), or why it cannot be one. Literal IPs and the localhost names are judged here
 * already (other names' addresses can change, so names are judged again at every connect). The URL
 * parser has already turned IPv4 in any spelling (`127.1`, `0x7f.0.0.1`, `2130706433`) into dotted
 * decimal and IPv6 into its short form.
 */
export function parseEndpointUrl(
  text: string,
  allowPrivateTargets: boolean,
): { href: string; error?: undefined } | { error: string } {
  const error = (reason: string) => ({ error: reason });
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return error('must be an absolute http or https URL');
  }
  // The stored form can be longer than the text (`%20` for each space).
  if (url.href.length > MAX_ENDPOINT_URL_LENGTH)
    return error(`must be at most ${MAX_ENDPOINT_URL_LENGTH} characters`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return error('must use http or https');
  if (url.username || url.password) return error('must not contain credentials');
  if (url.hash) return error('must not contain a fragment');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const refused = allowPrivateTargets ? undefined : localTargetRefusal(host);
  if (refused) return error(refused);
  return { href: url.href };
}

/** Why `host` (as the URL parser writes it, brackets removed) names a local target, or undefined. */
function localTargetRefusal(host: string): string | undefined {
  if (isIP(host) && isPrivateAddress(host)) {
    return `${host} is a private, loopback or link-local address (HERALD_ALLOW_PRIVATE_TARGETS is off)`;
  }
  if (isLocalhostName(host)) {
    return `${host} always names this host, a loopback address (HERALD_ALLOW_PRIVATE_TARGETS is off)`;
  }
  return undefined;
}
