import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { buildConnector } from 'undici';
import { isPrivateAddress } from './address-policy.js';

/** The attempt failed before any connection was made: the target resolves to a refused address. */
export class TargetRefusedError extends Error {
  constructor(
    readonly hostname: string,
    readonly address: string,
  ) {
    super(
      `refused to connect to ${hostname}: it resolves to ${address}, a private, loopback or link-local ` +
        `address (set HERALD_ALLOW_PRIVATE_TARGETS=true to allow)`,
    );
    this.name = 'TargetRefusedError';
  }
}

/** Every address of a name, in the resolver's order. */
export type Resolver = (hostname: string) => Promise<string[]>;

const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((record) => record.address);

/**
 * Resolves a target host once and returns the addresses to try, in order. With private targets
 * refused, every resolved address must be public: a name with one private record could otherwise be
 * steered there by the resolver's ordering.
 */
export async function vetTarget(
  hostname: string,
  allowPrivate: boolean,
  resolve: Resolver = systemResolver,
): Promise<string[]> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(bare) ? [bare] : await resolve(bare);
  if (!allowPrivate) {
    const refused = addresses.find(isPrivateAddress);
    if (refused !== undefined) throw new TargetRefusedError(hostname, refused);
  }
  if (addresses.length === 0) throw new Error(`${hostname} has no address`);
  return addresses;
}

/**
 * An undici connector that vets the target at connect time and then connects to the vetted addresses,
 * never resolving the name a second time (no DNS-rebinding window). Addresses are tried in order until
 * one connects, so a name whose first record is unreachable (an IPv6 address without a route, a dead
 * replica) still gets its webhooks; the error of the last one is reported. The hostname stays the
 * TLS servername and the Host header, so certificates and virtual hosts work as usual.
 */
export function guardedConnector(
  allowPrivate: boolean,
  options: buildConnector.BuildOptions,
  resolve?: Resolver,
): buildConnector.connector {
  const connect = buildConnector(options);
  return (target, callback) => {
    const servername = target.servername ?? bareHost(target.hostname);
    const tryFrom = (addresses: string[], index: number): void =>
      connect({ ...target, hostname: addresses[index]!, servername }, (...result) => {
        if (result[0] && index + 1 < addresses.length) tryFrom(addresses, index + 1);
        else callback(...result);
      });
    vetTarget(target.hostname, allowPrivate, resolve).then(
      (addresses) => tryFrom(addresses, 0),
      (error: Error) => callback(error, null),
    );
  };
}

/** SNI takes names only: an IP-literal target has no servername. */
function bareHost(hostname: string): string | undefined {
  return isIP(hostname.replace(/^\[|\]$/g, '')) ? undefined : hostname;
}
