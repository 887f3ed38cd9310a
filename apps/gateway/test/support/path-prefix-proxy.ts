import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * A reverse proxy that serves a gateway under `prefix` (as `/herald/…`), for WebSocket upgrades only:
 * it strips the prefix and pipes the connection through. Anything outside the prefix is refused.
 */
export async function startPathPrefixProxy(target: string, prefix: string) {
  const { hostname, port } = new URL(target);
  const server = createServer((_request, response) => response.writeHead(404).end());
  // Upgraded connections are no longer the HTTP server's to close.
  const piped = new Set<Duplex>();
  server.on('upgrade', (request, client, head) => {
    if (!request.url?.startsWith(`${prefix}/`)) return client.destroy();
    const upstream = connect(Number(port), hostname, () => {
      const headers = request.rawHeaders
        .map((value, i) => (i % 2 === 0 ? `${value}: ${request.rawHeaders[i + 1]}\r\n` : ''))
        .join('');
      upstream.write(`GET ${request.url!.slice(prefix.length)} HTTP/1.1\r\n${headers}\r\n`);
      upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
    for (const [socket, peer] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      piped.add(socket);
      socket.on('close', () => {
        piped.delete(socket);
        peer.destroy();
      });
      socket.on('error', () => peer.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}/`,
    close: () => {
      for (const socket of piped) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
