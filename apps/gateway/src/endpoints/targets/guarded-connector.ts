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

/**
 * Resolves a target host once and returns the address to connect to. With private targets refused,
 * every resolved address must be public: a name with one private record could otherwise be steered
 * there by the resolver's ordering.
 */
export async function vetTarget(hostname: string, allowPrivate: boolean): Promise<string> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(bare)
    ? [bare]
    : (await lookup(bare, { all: true, verbatim: true })).map((record) => record.address);
  if (!allowPrivate) {
    const refused = addresses.find(isPrivateAddress);
    if (refused !== undefined) throw new TargetRefusedError(hostname, refused);
  }
  const [first] = addresses;
  if (first === undefined) throw new Error(`${hostname} has no address`);
  return first;
}

/**
 * An undici connector that vets the target at connect time and then connects to the vetted address,
 * never resolving the name a second time (no DNS-rebinding window). The hostname stays the TLS
 * servername and the Host header, so certificates and virtual hosts work as usual.
 */
export function guardedConnector(
  allowPrivate: boolean,
  options: buildConnector.BuildOptions,
): buildConnector.connector {
  const connect = buildConnector(options);
  return (target, callback) => {
    vetTarget(target.hostname, allowPrivate).then(
      (address) =>
        connect(
          { ...target, hostname: address, servername: target.servername ?? bareHost(target.hostname) },
          callback,
        ),
      (error: Error) => callback(error, null),
    );
  };
}

/** SNI takes names only: an IP-literal target has no servername. */
function bareHost(hostname: string): string | undefined {
  return isIP(hostname.replace(/^\[|\]$/g, '')) ? undefined : hostname;
}
