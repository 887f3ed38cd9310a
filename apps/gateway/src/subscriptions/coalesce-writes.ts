import type { Socket as NetSocket } from 'node:net';

interface EngineTransport {
  name: string;
  /** False while a `send` is in flight; engine.io queues packets until it completes. */
  writable: boolean;
  send(packets: unknown[]): void;
  /** The `ws` WebSocket of a websocket transport; `_socket` is its TCP socket. */
  socket?: { _socket?: NetSocket };
}

interface EngineConnection {
  transport: EngineTransport;
  on(event: 'upgrade', listener: () => void): unknown;
}

const coalesced = new WeakSet<EngineTransport>();

function wrap(transport: EngineTransport): void {
  if (transport.name !== 'websocket' || coalesced.has(transport)) return;
  coalesced.add(transport);
  const send = transport.send.bind(transport);
  transport.send = (packets) => {
    const tcp = transport.socket?._socket;
    if (!tcp || packets.length < 2) return send(packets);
    tcp.cork();
    try {
      send(packets);
    } finally {
      tcp.uncork();
    }
  };
}

/**
 * Fan-out writes one packet per event per subscriber. While a socket's previous write is in flight,
 * engine.io queues the next packets and then sends them as a burst, one WebSocket frame each, and `ws`
 * flushes every frame with its own syscall. Corking the TCP socket around the burst hands all of its
 * frames to the kernel in one `writev`; the bytes on the wire are unchanged. Under a busy fan-out the
 * per-frame syscalls were the largest single cost of the gateway (see docs/performance.md).
 */
export function coalesceWebsocketWrites(connection: EngineConnection): void {
  wrap(connection.transport);
  connection.on('upgrade', () => wrap(connection.transport));
}

/**
 * Runs `write` (several `conn.write`s) and hands all of its packets to the transport in one `send`, so
 * they leave in one `writev` (see above). Without this, engine.io sends the first packet of a fan-out
 * batch on its own the moment it is written and the rest once that write has completed: two syscalls
 * per socket per batch, and two reads for the subscriber. The transport is marked busy meanwhile, as
 * engine.io itself marks it during a send, so the packets wait in the connection's buffer in order;
 * a transport that is already busy needs nothing, its packets are held anyway.
 */
export function writeTogether(connection: EngineConnection, write: () => void): void {
  const { transport } = connection;
  if (!transport.writable) return write();
  transport.writable = false;
  try {
    write();
  } finally {
    transport.writable = true;
  }
  // `flush` sends the buffered packets when the transport is writable (private in engine.io's typings).
  (connection as unknown as { flush(): void }).flush();
}
