import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Servers already serving upgrades so (see `serveUpgradesAsRequests`). */
const served = new WeakSet<Server>();

/** Connection tokens that only serve the upgrade. */
const UPGRADE_TOKENS = new Set(['upgrade', 'http2-settings']);

/** The request line and headers as the client sent them, less what asks for the upgrade. */
function withoutUpgrade(request: IncomingMessage): string {
  const lines = [`${request.method} ${request.url} HTTP/${request.httpVersion}`];
  const raw = request.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    let value = raw[i + 1]!;
    if (name === 'upgrade' || name === 'http2-settings') continue;
    if (name === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token && !UPGRADE_TOKENS.has(token.toLowerCase()))
        .join(', ');
      if (!value) continue;
    }
    lines.push(`${raw[i]}: ${value}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Serves a request that asks to upgrade (an `Upgrade` header) as the plain HTTP/1.1 request RFC 9110
 * lets a server take it as, unless `owns` claims its URL (socket.io's websockets). Node hands every such
 * request to the server's 'upgrade' listeners once there is one, and socket.io adds one: Fastify never
 * saw them, and they were dropped unanswered after a second. Clients send them without being asked to:
 * `curl --http2`, and Java's HttpClient on its first request to a cleartext origin (`Upgrade: h2c`),
 * a POST with its body included. The request is put back, without its upgrade headers, ahead of the
 * bytes still unread, and the connection handed to the server again, whose parser takes it from there:
 * the body, the answer and keep-alive as for any request. Node decodes header bytes as latin1, so
 * encoding them back so gives the bytes the client sent. A client that pipelined such a request behind
 * others still unanswered could get their answers out of order; none is known to (an upgrade is asked
 * for with the first request, and its answer awaited).
 */
export function serveUpgradesAsRequests(server: Server, owns: (url: string) => boolean): void {
  // A second listener would hand the same connection to the server twice.
  if (served.has(server)) return;
  served.add(server);
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (owns(request.url ?? '')) return;
    socket.unshift(Buffer.concat([Buffer.from(withoutUpgrade(request), 'latin1'), head]));
    server.emit('connection', socket);
  });
}
