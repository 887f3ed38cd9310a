import {
  Backoff,
  type BackoffOptions,
  type NormalizedEvent,
  type StreamContext,
  type StreamSource,
  stampArrival,
} from '@herald/events';
import WebSocket, { type RawData } from 'ws';
import { serverSocketUrl, type StreamSourceConfig } from './config.js';
import { decodeNotifications, type EncodedNotification } from './decode.js';
import { encodeServerMessage, type ServerMessageContent } from './encode.js';
import { ServerMessage_EventType, type ServerMessage } from './gen/jellyfish/server_notifications_pb.js';
import { normalizeNotification, PROTOBUF_CONTENT_TYPE, unknownEvent } from './normalize.js';

/** Timeouts and intervals of the server socket; tests shorten them. */
export interface ServerSocketTiming {
  /** From dialing until every SubscribeResponse arrived. */
  handshakeTimeoutMs: number;
  /** How often Herald pings an idle, connected server (the server pings every 30 s on its own). */
  pingIntervalMs: number;
  /** A connection with no pong this long after a ping is dead: terminate and reconnect. */
  pongTimeoutMs: number;
  /** How long `stop()` waits for the server to acknowledge the close frame. */
  closeTimeoutMs: number;
  backoff: BackoffOptions;
}

export const DEFAULT_SERVER_SOCKET_TIMING: ServerSocketTiming = {
  handshakeTimeoutMs: 10_000,
  pingIntervalMs: 15_000,
  pongTimeoutMs: 10_000,
  closeTimeoutMs: 2_000,
  backoff: { initialMs: 1_000, maxMs: 30_000 },
};

/**
 * The largest frame taken from the server. Notifications are a few hundred bytes and a metrics report a
 * few kilobytes; ws's default of 100 MiB let one garbage frame of 30 MB take the gateway from 131 to
 * 739 MB. A larger frame closes the connection ("Max payload size exceeded"), which is then opened again.
 */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

/** Jellyfish closes with 1000 for both a normal close and a bad token, so the reason tells them apart. */
const INVALID_TOKEN_CLOSE = { code: 1000, reason: 'invalid token' };

type Phase = 'idle' | 'running' | 'auth_failed' | 'stopped';
type Handshake = 'authenticating' | 'subscribing' | 'connected';

/** Everything that belongs to one socket, so a stale socket's late callbacks can be recognised and ignored. */
interface Connection {
  socket: WebSocket;
  handshake: Handshake;
  awaitedSubscriptions: Set<ServerMessage_EventType>;
  /** The last 'error' before 'close', which says more than close code 1006. */
  lastError?: Error;
  timer?: unknown;
}

/**
 * A stream source on the Jellyfish/Fishjam server websocket: AuthRequest → Authenticated → SubscribeRequest(s)
 * → SubscribeResponse(s) → binary notifications. Reconnects with jittered backoff on anything but a rejected
 * token; the server keeps no replay, so whatever it sent while we were away is lost.
 */
export class ServerSocketStream implements StreamSource {
  private phase: Phase = 'idle';
  private connection?: Connection;
  private reconnectTimer?: unknown;
  private emitted: Promise<void> = Promise.resolve();
  private readonly backoff: Backoff;
  /** A disconnect was warned of since the last connection: the retries after it are logged at info. */
  private warned = false;
  private readonly url: string;

  constructor(
    private readonly config: StreamSourceConfig,
    private readonly context: StreamContext,
    private readonly timing: ServerSocketTiming = DEFAULT_SERVER_SOCKET_TIMING,
  ) {
    this.backoff = new Backoff(timing.backoff, context.random);
    this.url = serverSocketUrl(config.serverUrl);
  }

  start(): void {
    if (this.phase !== 'idle') return;
    this.phase = 'running';
    this.connect();
  }

  async stop(): Promise<void> {
    const previous = this.phase;
    this.phase = 'stopped';
    this.clearTimer(this.reconnectTimer);
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await this.close(connection);
    if (previous !== 'stopped') this.context.setState({ state: 'stopped' });
  }

  private connect(): void {
    this.context.setState({ state: 'connecting' });
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url, { maxPayload: MAX_FRAME_BYTES });
    } catch (error) {
      this.reconnectLater(`cannot connect: ${(error as Error).message}`);
      return;
    }
    const connection: Connection = {
      socket,
      handshake: 'authenticating',
      awaitedSubscriptions: new Set(this.subscribedEventTypes()),
    };
    this.connection = connection;
    this.schedule(connection, this.timing.handshakeTimeoutMs, () =>
      this.fail(
        connection,
        `handshake timed out after ${this.timing.handshakeTimeoutMs} ms (${connection.handshake})`,
      ),
    );
    socket.on('open', () =>
      this.send(connection, { case: 'authRequest', value: { token: this.config.serverApiToken } }),
    );
    socket.on('message', (data, isBinary) => this.onFrame(connection, data, isBinary));
    socket.on('pong', () => this.onPong(connection));
    socket.on('error', (error) => {
      connection.lastError = error;
    });
    socket.on('close', (code, reason) => this.onClose(connection, code, reason.toString()));
  }

  private onFrame(connection: Connection, data: RawData, isBinary: boolean): void {
    if (connection !== this.connection) return;
    const bytes = frameBytes(data);
    if (!isBinary) {
      // The server only ever sends binary frames after v0.1.0; keep anything else for inspection.
      const raw = { body: bytes, contentType: 'text/plain' };
      this.emit([unknownEvent(raw, { reason: 'undecodable', error: 'text frame' })]);
      return;
    }
    let notifications: EncodedNotification[];
    try {
      notifications = decodeNotifications(bytes);
    } catch (error) {
      const raw = { body: bytes, contentType: PROTOBUF_CONTENT_TYPE };
      this.emit([unknownEvent(raw, { reason: 'undecodable', error: (error as Error).message })]);
      return;
    }
    const events: NormalizedEvent[] = [];
    for (const notification of notifications) {
      this.advanceHandshake(connection, notification.message);
      const event = normalizeNotification(notification);
      if (event) events.push(event);
    }
    if (events.length > 0) this.emit(events);
  }

  private advanceHandshake(connection: Connection, message: ServerMessage): void {
    const { content } = message;
    if (content.case === 'authenticated' && connection.handshake === 'authenticating') {
      connection.handshake = 'subscribing';
      for (const eventType of connection.awaitedSubscriptions) {
        this.send(connection, { case: 'subscribeRequest', value: { eventType } });
      }
    } else if (content.case === 'subscribeResponse' && connection.handshake === 'subscribing') {
      connection.awaitedSubscriptions.delete(content.value.eventType);
      if (connection.awaitedSubscriptions.size === 0) this.onSubscribed(connection);
    }
  }

  private onSubscribed(connection: Connection): void {
    connection.handshake = 'connected';
    this.warned = false;
    this.backoff.connected(this.context.clock.now());
    this.context.setState({ state: 'connected' });
    this.schedulePing(connection);
  }

  private schedulePing(connection: Connection): void {
    this.schedule(connection, this.timing.pingIntervalMs, () => {
      connection.socket.ping();
      this.schedule(connection, this.timing.pongTimeoutMs, () =>
        this.fail(connection, `no pong within ${this.timing.pongTimeoutMs} ms`),
      );
    });
  }

  private onPong(connection: Connection): void {
    if (connection === this.connection && connection.handshake === 'connected') this.schedulePing(connection);
  }

  private onClose(connection: Connection, code: number, reason: string): void {
    if (connection !== this.connection) return;
    this.clearTimer(connection.timer);
    this.connection = undefined;
    if (code === INVALID_TOKEN_CLOSE.code && reason === INVALID_TOKEN_CLOSE.reason) {
      // Retrying cannot help; the gateway starts a new source once the token is updated.
      this.phase = 'auth_failed';
      this.context.setState({ state: 'auth_failed', reason: 'invalid token' });
      return;
    }
    const detail = connection.lastError?.message ?? (reason || 'no reason');
    this.reconnectLater(`connection closed (code ${code}): ${detail}${whileSubscribing(connection)}`);
  }

  /** Gives up on a connection that stopped answering; its eventual 'close' is ignored. */
  private fail(connection: Connection, reason: string): void {
    if (connection !== this.connection) return;
    this.clearTimer(connection.timer);
    this.connection = undefined;
    connection.socket.terminate();
    this.reconnectLater(reason);
  }

  private reconnectLater(reason: string): void {
    if (this.phase !== 'running') return;
    const delayMs = this.backoff.next(this.context.clock.now());
    // Once per run of failures: a server that stays away would otherwise warn every 30 s for ever.
    if (!this.warned) this.context.logger.warn({ reason, delayMs }, 'jellyfish stream disconnected');
    else this.context.logger.info({ reason, delayMs }, 'jellyfish stream still cannot connect');
    this.warned = true;
    this.context.setState({ state: 'backoff', reason });
    this.reconnectTimer = this.context.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.phase === 'running') this.connect();
    }, delayMs);
  }

  private close(connection: Connection): Promise<void> {
    this.clearTimer(connection.timer);
    const { socket } = connection;
    if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // A server that never answers the close frame must not hold stop() (or the process) for long.
      const deadline = this.context.clock.setTimeout(() => socket.terminate(), this.timing.closeTimeoutMs);
      socket.once('close', () => {
        this.context.clock.clearTimeout(deadline);
        resolve();
      });
      socket.close(1000, 'source stopped');
    });
  }

  settled(): Promise<void> {
    return this.emitted;
  }

  /** Emits keep arrival order: each waits for the previous commit; a failed commit is logged, not retried. */
  private emit(events: NormalizedEvent[]): void {
    stampArrival(events, this.context.clock);
    this.emitted = this.emitted
      .then(() => this.context.emit(events))
      .catch((error: unknown) =>
        this.context.logger.error(
          { err: error, types: events.map((event) => event.type) },
          'jellyfish events could not be stored',
        ),
      );
  }

  private send(connection: Connection, content: ServerMessageContent): void {
    connection.socket.send(encodeServerMessage(content));
  }

  /** One timer per connection at a time: handshake deadline, then ping interval / pong deadline. */
  private schedule(connection: Connection, ms: number, callback: () => void): void {
    this.clearTimer(connection.timer);
    connection.timer = this.context.clock.setTimeout(() => {
      connection.timer = undefined;
      callback();
    }, ms);
  }

  private clearTimer(timer: unknown): void {
    if (timer !== undefined) this.context.clock.clearTimeout(timer);
  }

  private subscribedEventTypes(): ServerMessage_EventType[] {
    return this.config.metrics
      ? [ServerMessage_EventType.SERVER_NOTIFICATION, ServerMessage_EventType.METRICS]
      : [ServerMessage_EventType.SERVER_NOTIFICATION];
  }
}

function frameBytes(data: RawData): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  // A copy, so stored events do not pin ws's pooled receive buffers.
  return new Uint8Array(Array.isArray(data) ? Buffer.concat(data) : data);
}

/**
 * Where a close during the subscribe step came: a server without metrics (Fishjam Cloud) drops the
 * connection at the METRICS subscription with no reason, and a source with `metrics: true` then
 * reconnected for ever saying only "no reason".
 */
function whileSubscribing(connection: Connection): string {
  if (connection.handshake !== 'subscribing') return '';
  const awaited = [...connection.awaitedSubscriptions]
    .map((type) => ServerMessage_EventType[type])
    .join(', ');
  const metrics = connection.awaitedSubscriptions.has(ServerMessage_EventType.METRICS)
    ? '; a server without metrics does this: set metrics to false'
    : '';
  return ` (while subscribing to ${awaited}${metrics})`;
}
