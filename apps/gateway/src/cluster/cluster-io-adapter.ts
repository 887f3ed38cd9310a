import type { Server as HttpServer } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions, Socket } from 'socket.io';
import { serveUpgradesAsRequests } from '../common/upgrades-as-requests.js';
import type { ClusterBus } from './cluster-bus.js';

/** A transport-level (engine.io) connection, which socket.io's namespace sockets ride on. */
type EngineSocket = Socket['conn'];

/** Nest's socket.io adapter, with the namespaces on the cluster bus's socket.io adapter. */
export class ClusterIoAdapter extends IoAdapter {
  /** Every transport-level connection, namespaces joined or not. */
  private readonly connections = new Set<EngineSocket>();

  constructor(
    app: INestApplicationContext,
    private readonly bus: ClusterBus,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const server: Server = super.createIOServer(port, {
      ...options,
      adapter: this.bus.socketAdapter,
      // Upgrades elsewhere are the HTTP API's requests (see serveUpgradesAsRequests), not to be cut off.
      destroyUpgrade: false,
    } as ServerOptions);
    // As engine.io matches its path.
    const enginePath = `${server.path().replace(/\/$/, '')}/`;
    serveUpgradesAsRequests(this.httpServer as HttpServer, (url) => url.startsWith(enginePath));
    server.engine.on('connection', (connection: EngineSocket) => {
      this.connections.add(connection);
      connection.once('close', () => this.connections.delete(connection));
    });
    return server;
  }

  /**
   * Cuts every websocket still open when the server closes, at shutdown (subscribers were told to
   * reconnect elsewhere and given time to go). The websocket library closes with a handshake and waits
   * 30 s for the peer to answer it: one hung or vanished client held the whole shutdown that long, and
   * with a webhook attempt in flight pushed it past its deadline.
   */
  override async close(server: Server): Promise<void> {
    for (const connection of this.connections) {
      (connection.transport as { socket?: { terminate?: () => void } }).socket?.terminate?.();
    }
    await super.close(server);
  }
}
