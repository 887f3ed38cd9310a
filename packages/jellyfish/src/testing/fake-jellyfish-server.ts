import { fromBinary } from '@bufbuild/protobuf';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  ServerMessageSchema,
  ServerMessage_EventType,
  type ServerMessage,
} from '../gen/jellyfish/server_notifications_pb.js';
import { encodeServerMessage, type ServerMessageContent } from '../encode.js';

export interface FakeJellyfishServerOptions {
  /** Tokens the handshake accepts; default `['development']`, the server's dev default. */
  validTokens?: readonly string[];
}

export interface FakeJellyfishServerCounters {
  /** Websocket upgrades accepted. */
  connections: number;
  /** AuthRequest messages received, valid or not. */
  authAttempts: number;
}

interface ClientState {
  authenticated: boolean;
  subscriptions: Set<ServerMessage_EventType>;
}

/**
 * An in-process stand-in for the Jellyfish/Fishjam server websocket (`/socket/server/websocket` on 127.0.0.1,
 * random port), following server_socket.ex: binary AuthRequest → Authenticated or close 1000 "invalid token",
 * SubscribeRequest → SubscribeResponse, then notifications pushed only to subscribed sockets.
 */
export class FakeJellyfishServer {
  readonly validTokens: Set<string>;
  readonly counters: FakeJellyfishServerCounters = { connections: 0, authAttempts: 0 };
  /**
   * When true the server still accepts sockets and reads frames but never answers: no Authenticated, no
   * SubscribeResponse, no pong. Models a hung server for handshake and dead-connection timeouts.
   */
  unresponsive = false;
  /** When false, a METRICS subscription drops the connection without a reason, as Fishjam Cloud does. */
  offersMetrics = true;
  private readonly clients = new Map<WebSocket, ClientState>();

  private constructor(
    private readonly server: WebSocketServer,
    options: FakeJellyfishServerOptions,
  ) {
    this.validTokens = new Set(options.validTokens ?? ['development']);
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (socket) => this.accept(socket));
  }

  static start(options: FakeJellyfishServerOptions = {}): Promise<FakeJellyfishServer> {
    return new Promise((resolve, reject) => {
      const server = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        path: '/socket/server/websocket',
        // Pongs are sent by hand so that `unresponsive` can swallow pings.
        autoPong: false,
      });
      server.once('error', reject);
      server.once('listening', () => resolve(new FakeJellyfishServer(server, options)));
    });
  }

  /** The `serverUrl` a stream source should be configured with (still known after `close()`). */
  readonly url: string;

  /** Sockets currently open. */
  get openSockets(): number {
    return this.clients.size;
  }

  /** Open sockets subscribed to this event type. */
  subscribers(eventType: ServerMessage_EventType): number {
    return [...this.clients.values()].filter((client) => client.subscriptions.has(eventType)).length;
  }

  /** Pushes a server notification (content or already-encoded bytes) to its subscribers; returns how many. */
  pushNotification(notification: ServerMessageContent | Uint8Array): number {
    const bytes = notification instanceof Uint8Array ? notification : encodeServerMessage(notification);
    return this.broadcast(ServerMessage_EventType.SERVER_NOTIFICATION, bytes);
  }

  /** Pushes a MetricsReport with this JSON text to metrics subscribers; returns how many. */
  pushMetrics(metrics: string): number {
    return this.broadcast(
      ServerMessage_EventType.METRICS,
      encodeServerMessage({ case: 'metricsReport', value: { metrics } }),
    );
  }

  /** Pings every socket and resolves with the number of pongs, once every socket answered. */
  pingAll(): Promise<number> {
    const sockets = [...this.clients.keys()];
    return Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            socket.once('pong', () => resolve());
            socket.ping();
          }),
      ),
    ).then(() => sockets.length);
  }

  /** Closes every socket as Jellyfish would, with a close frame. */
  closeAll(code: number, reason: string): void {
    for (const socket of this.clients.keys()) socket.close(code, reason);
  }

  /** Drops every socket without a close frame, like a crashed server or a broken network. */
  dropAll(): void {
    for (const socket of this.clients.keys()) socket.terminate();
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((resolve, reject) =>
      this.server.close((error) => (error ? reject(error) : resolve())),
    );
  }

  private accept(socket: WebSocket): void {
    this.counters.connections++;
    const client: ClientState = { authenticated: false, subscriptions: new Set() };
    this.clients.set(socket, client);
    socket.on('close', () => this.clients.delete(socket));
    socket.on('ping', (data) => {
      if (!this.unresponsive) socket.pong(data);
    });
    socket.on('message', (data, isBinary) => {
      if (!isBinary) {
        socket.close(1003, 'operation not allowed');
        return;
      }
      let message: ServerMessage;
      try {
        message = fromBinary(ServerMessageSchema, new Uint8Array(data as Buffer));
      } catch {
        socket.terminate(); // the real server's handler raises and the socket process dies
        return;
      }
      this.handle(socket, client, message);
    });
  }

  private handle(socket: WebSocket, client: ClientState, message: ServerMessage): void {
    const { content } = message;
    if (!client.authenticated) {
      if (content.case !== 'authRequest') {
        socket.close(1000, 'invalid auth request');
        return;
      }
      this.counters.authAttempts++;
      if (this.unresponsive) return;
      if (!this.validTokens.has(content.value.token)) {
        socket.close(1000, 'invalid token');
        return;
      }
      client.authenticated = true;
      socket.send(encodeServerMessage({ case: 'authenticated', value: {} }));
      return;
    }
    if (content.case !== 'subscribeRequest') {
      socket.close(1003, 'operation not allowed');
      return;
    }
    const { eventType } = content.value;
    if (
      eventType === ServerMessage_EventType.UNSPECIFIED ||
      (eventType === ServerMessage_EventType.METRICS && !this.offersMetrics)
    ) {
      socket.terminate();
      return;
    }
    client.subscriptions.add(eventType);
    if (!this.unresponsive)
      socket.send(encodeServerMessage({ case: 'subscribeResponse', value: { eventType } }));
  }

  private broadcast(eventType: ServerMessage_EventType, bytes: Uint8Array): number {
    let sent = 0;
    for (const [socket, client] of this.clients) {
      if (client.subscriptions.has(eventType)) {
        socket.send(bytes);
        sent++;
      }
    }
    return sent;
  }
}
