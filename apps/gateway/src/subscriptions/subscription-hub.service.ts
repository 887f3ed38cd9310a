import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type {
  ClientToServerEvents,
  ClosingMessage,
  HeraldEvent,
  ServerToClientEvents,
  SocketError,
  SubscribeResult,
  UnsubscribeResult,
} from '@herald/events';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { Socket } from 'socket.io';
import { v7 as uuidv7 } from 'uuid';
import { apiKeyRoom } from '../cluster/api-key-room.js';
import type { Principal } from '../common/auth/scope.js';
import { HERALD_CONFIG, type HeraldConfig } from '../config/herald-config.js';
import { CursorResolver, cursorRefusal } from '../events/cursor-resolver.js';
import { EventLogReads } from '../events/event-log-reads.js';
import { toEnvelope } from '../events/event-record.js';
import { EventRepository } from '../events/event.repository.js';
import { MetricsService, type SocketDisconnectReason } from '../metrics/metrics.service.js';
import { writeTogether } from './coalesce-writes.js';
import { EventLogTail } from './event-log-tail.service.js';
import { EventPacketEncoder } from './event-packet.js';
import { parseSubscribe } from './subscribe-request.js';
import { Subscription } from './subscription.js';

export type SubscriberSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

interface Session {
  socket: SubscriberSocket;
  principal: Principal;
  subscriptions: Map<string, Subscription>;
  /** Subscribes waiting for their cursor: they hold a place under the limit until they are stored. */
  settingUp: number;
  /** Why Herald closed the socket, when it did and said so (`closing`). */
  closedAs?: SocketDisconnectReason;
}

/** The closings the hub itself sends (a revoked key's sockets are cut off by the cluster bus). */
type HubClosing = ClosingMessage & { code: 'slow_consumer' | 'cursor_expired' | 'shutting_down' };

/** Socket.IO's disconnect reasons, as `herald_socket_disconnects_total` names them. */
const DISCONNECT_REASONS: Record<string, SocketDisconnectReason> = {
  'client namespace disconnect': 'client',
  'transport close': 'transport_close',
  'ping timeout': 'ping_timeout',
  'transport error': 'transport_error',
  'parse error': 'transport_error',
  'server shutting down': 'shutting_down',
  'server namespace disconnect': 'server',
};

const REPLAY_PAGE = 500;
const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
/**
 * How often subscriptions whose position moved on without an event are told it (`position`). Rarely
 * enough to cost nothing next to the events themselves; retention runs in days, so a client's resume
 * point is never more than this far behind the server's.
 */
const POSITION_INTERVAL_MS = 5_000;
/** How long shutdown gives the `closing` and disconnect packets to reach subscribers. */
const CLOSING_FLUSH_MS = 100;

const GONE: SocketError = { code: 'invalid_request', message: 'not connected' };

class SubscribeRefused extends Error {
  constructor(readonly error: SocketError) {
    super(error.message);
  }
}

/**
 * Serves every subscription of this instance's sockets: replays stored events after a cursor, then
 * switches to the live log tail at a seam with no gap and no duplicate, and cuts off sockets that
 * cannot keep up before their buffer passes `HERALD_SOCKET_MAX_BUFFER`.
 */
@Injectable()
export class SubscriptionHub
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly sessions = new Map<string, Session>();
  private readonly packets = new EventPacketEncoder();
  private positionTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tail: EventLogTail,
    private readonly events: EventRepository,
    private readonly cursors: CursorResolver,
    private readonly reads: EventLogReads,
    private readonly metrics: MetricsService,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
    @InjectPinoLogger(SubscriptionHub.name) private readonly logger: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.tail.onEvents((events) => this.dispatch(events));
    this.positionTimer = setInterval(() => this.announcePositions(), POSITION_INTERVAL_MS);
    this.positionTimer.unref();
  }

  /**
   * Tells every subscriber why before the socket server closes, so clients resume elsewhere at once
   * (the drain state refuses their reconnects here) rather than taking the close for a network fault.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.sessions.size === 0) return;
    const closing: HubClosing = {
      code: 'shutting_down',
      message: 'this instance is shutting down; reconnect',
    };
    // Without closing the connection: the server's close does, once what is written had its time.
    for (const session of this.sessions.values()) this.sayClosing(session, closing).disconnect();
    // The server's close then destroys the connections, dropping what their sockets have not written.
    await sleep(CLOSING_FLUSH_MS);
  }

  onApplicationShutdown(): void {
    clearInterval(this.positionTimer);
  }

  attach(socket: SubscriberSocket, principal: Principal): void {
    const session: Session = { socket, principal, subscriptions: new Map(), settingUp: 0 };
    this.sessions.set(socket.id, session);
    void socket.join(apiKeyRoom(principal.keyId));
    this.metrics.socketConnections.inc();
    socket.once('disconnect', (reason: string) => {
      this.metrics.socketDisconnects.inc({
        reason: session.closedAs ?? DISCONNECT_REASONS[reason] ?? 'other',
      });
    });
  }

  /** The API keys the connected sockets authenticated with. */
  connectedKeyIds(): string[] {
    return [...new Set([...this.sessions.values()].map((session) => session.principal.keyId))];
  }

  detach(socket: SubscriberSocket): void {
    const session = this.sessions.get(socket.id);
    if (!session) return;
    for (const subscription of session.subscriptions.values()) subscription.cancelled = true;
    this.sessions.delete(socket.id);
    this.metrics.socketConnections.dec();
  }

  async subscribe(socket: SubscriberSocket, payload: unknown): Promise<SubscribeResult> {
    const session = this.sessions.get(socket.id);
    if (!session) return { ok: false, error: GONE };
    const parsed = parseSubscribe(payload);
    if (!parsed.ok) return parsed;
    if (session.subscriptions.size + session.settingUp >= MAX_SUBSCRIPTIONS_PER_SOCKET) {
      return {
        ok: false,
        error: {
          code: 'too_many_subscriptions',
          message: `at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} per connection`,
        },
      };
    }
    session.settingUp++;
    try {
      const { types, sources, after } = parsed.request;
      const replayFrom = after === undefined ? undefined : await this.resolveCursor(session, after);
      const start = replayFrom ?? this.tail.position;
      const subscription = new Subscription(uuidv7(), { types, sources }, start);
      session.subscriptions.set(subscription.id, subscription);
      if (replayFrom === undefined) subscription.live = true;
      // The ack goes out first; socket.io keeps packet order, so replayed events follow it.
      else setImmediate(() => void this.replay(session, subscription));
      return { ok: true, id: subscription.id, cursor: String(start) };
    } catch (error) {
      if (error instanceof SubscribeRefused) return { ok: false, error: error.error };
      // Written as a warning during a database outage (see databaseOutageLogHook).
      this.logger.error({ err: error }, 'subscribe failed');
      return {
        ok: false,
        error: { code: 'internal', message: 'the subscription could not be set up; retry' },
      };
    } finally {
      session.settingUp--;
    }
  }

  unsubscribe(socket: SubscriberSocket, payload: unknown): UnsubscribeResult {
    const id = typeof payload === 'object' && payload !== null ? (payload as { id?: unknown }).id : undefined;
    const subscription =
      typeof id === 'string' ? this.sessions.get(socket.id)?.subscriptions.get(id) : undefined;
    if (!subscription)
      return { ok: false, error: { code: 'unknown_subscription', message: 'no such subscription' } };
    subscription.cancelled = true;
    this.sessions.get(socket.id)?.subscriptions.delete(subscription.id);
    return { ok: true };
  }

  private async resolveCursor({ socket, principal }: Session, after: string): Promise<bigint> {
    const cursor = await this.reads.lookUp(principal.keyId, () =>
      // A client gone while its lookup waited its turn will not read the answer.
      socket.connected ? this.cursors.resolve(after) : Promise.reject(new SubscribeRefused(GONE)),
    );
    if (cursor.kind === 'ok') return cursor.seq;
    throw new SubscribeRefused(cursorRefusal(cursor, 'after'));
  }

  private dispatch(events: HeraldEvent[]): void {
    // Parsed once per batch, not once per subscription: this loop runs for every live subscription.
    const seqs = events.map((event) => BigInt(event.seq));
    for (const session of this.sessions.values()) {
      writeTogether(session.socket.conn, () => this.dispatchTo(session, events, seqs));
    }
  }

  private dispatchTo(session: Session, events: HeraldEvent[], seqs: bigint[]): void {
    // Measured before this batch's writes: `writeTogether` holds them in the same buffer until it hands
    // them over together, and they say nothing about how fast the client reads.
    const backlog = pendingPackets(session.socket);
    const last = seqs[seqs.length - 1]!;
    for (const subscription of session.subscriptions.values()) {
      if (!subscription.live) continue;
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        if (seqs[i]! <= subscription.cursor || !subscription.filter.matches(event)) continue;
        if (!this.send(session, subscription, event, seqs[i]!, backlog)) return;
      }
      if (last > subscription.cursor) subscription.cursor = last;
    }
  }

  /**
   * Sends one event; a socket whose `backlog` (packets the network has not taken) is at its bound is
   * disconnected instead (it resumes with `after`).
   */
  private send(
    session: Session,
    subscription: Subscription,
    event: HeraldEvent,
    seq: bigint,
    backlog: number,
  ): boolean {
    const { socket } = session;
    if (!socket.connected) return false;
    if (backlog >= this.config.socketMaxBuffer) {
      this.close(session, 'disconnecting a slow subscriber', {
        code: 'slow_consumer',
        message: `more than ${this.config.socketMaxBuffer} packets waiting; reconnect and resume with after`,
      });
      return false;
    }
    const { data, options } = this.packets.encode(subscription, event);
    // engine.io's typings name only `compress` among the write options (see EncodedEventPacket).
    socket.conn.write(data, options as { compress?: boolean });
    subscription.cursor = seq;
    subscription.announced = seq;
    return true;
  }

  /** Closes a socket one of whose replays retention overtook; resubscribing with its cursor is refused as expired. */
  private expire(session: Session): void {
    this.close(session, 'retention overtook a replay', {
      code: 'cursor_expired',
      message:
        'retention removed events after a subscription’s position before they were sent; resuming from it is refused as cursor_expired',
    });
  }

  /** Says why, then disconnects: the client resumes each subscription with `after`. */
  private close(session: Session, logged: string, closing: HubClosing): void {
    this.logger.info({ socketId: session.socket.id, keyId: session.principal.keyId }, logged);
    this.sayClosing(session, closing).disconnect(true);
  }

  /** Tells the socket why it is closed, and counts its end under that reason; returns the socket. */
  private sayClosing(session: Session, closing: HubClosing): SubscriberSocket {
    session.closedAs = closing.code;
    session.socket.emit('closing', closing);
    return session.socket;
  }

  /**
   * Tells each subscription whose cursor passed events it did not match how far it has got, so that
   * a client resumes from there rather than from its last event, which retention may have removed.
   */
  private announcePositions(): void {
    for (const { socket, subscriptions } of this.sessions.values()) {
      for (const subscription of subscriptions.values()) {
        if (!subscription.live || subscription.cursor <= subscription.announced) continue;
        subscription.announced = subscription.cursor;
        socket.emit('position', { subscription: subscription.id, seq: String(subscription.cursor) });
      }
    }
  }

  /**
   * Replays stored events up to the tail's position, then goes live when the tail has not moved since
   * the last page: that check and the switch happen in one synchronous step, so the tail's next batch
   * is the first this subscription gets live, and everything before it came from the replay.
   */
  private async replay(session: Session, subscription: Subscription): Promise<void> {
    try {
      while (!subscription.cancelled) {
        const bound = this.tail.position;
        const page = await this.reads.run(session.principal.keyId, () =>
          // A subscription cancelled while its page waited its turn needs it no more.
          subscription.cancelled
            ? Promise.resolve(undefined)
            : this.events.query({
                afterSeq: String(subscription.cursor),
                throughSeq: String(bound),
                typeRegexes: subscription.typeRegexes,
                sourceIds: subscription.sourceIds,
                limit: REPLAY_PAGE,
              }),
        );
        if (!page) return;
        // Retention ran while the replay was under way (a slow reader far behind): what it removed
        // after the cursor is gone, and the client is told so when it resumes.
        if (page.expired) return this.expire(session);
        const { rows } = page;
        for (const row of rows) {
          await this.drained(session.socket);
          if (subscription.cancelled) return;
          const backlog = pendingPackets(session.socket);
          if (!this.send(session, subscription, toEnvelope(row), BigInt(row.seq), backlog)) return;
        }
        if (rows.length === REPLAY_PAGE) continue;
        // A cursor beyond the tail (an event another instance committed, not read here yet) stays: its
        // events come from the tail, and those up to the cursor were the client's already.
        if (bound > subscription.cursor) subscription.cursor = bound;
        if (this.tail.position === bound) {
          subscription.live = true;
          return;
        }
      }
    } catch (error) {
      this.logger.warn(
        { err: error, socketId: session.socket.id },
        'replay failed; closing the socket so the client resumes',
      );
      session.socket.disconnect(true);
    }
  }

  /** Replays go at the reader's pace: wait while the socket's buffer is half full. */
  private async drained(socket: SubscriberSocket): Promise<void> {
    while (socket.connected && pendingPackets(socket) > this.config.socketMaxBuffer / 2) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.conn.off('drain', done);
          socket.off('disconnect', done);
          resolve();
        };
        socket.conn.on('drain', done);
        socket.on('disconnect', done);
      });
    }
  }
}

/**
 * Packets engine.io holds for a socket that the network has not taken yet. It only grows while the
 * transport is not writable (the peer is not reading, or, long-polling, has not polled again), which is
 * exactly the backlog to bound.
 * (`writeBuffer` is public at run time but marked private in engine.io's typings.)
 */
function pendingPackets(socket: SubscriberSocket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}
