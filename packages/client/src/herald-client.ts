import {
  type ClientToServerEvents,
  type EventFilter,
  EVENTS_NAMESPACE,
  type EventMessage,
  type HeraldEvent,
  type ServerToClientEvents,
  type SocketError,
} from '@herald/events';
import { io, type Socket } from 'socket.io-client';
import { HeraldClientError } from './errors.js';

export interface HeraldClientOptions {
  /** The gateway's base URL, e.g. `https://herald.example.com`. */
  url: string;
  /** An API key with the `subscribe` (or `admin`) scope. */
  token: string;
  /** How long to wait for a `subscribe` answer before retrying it on the next connection. Default 10 s. */
  ackTimeoutMs?: number;
  /** Longest pause between reconnection attempts. Default 5 s. */
  reconnectionDelayMaxMs?: number;
  /**
   * The Socket.IO path on the gateway's host. Default `/socket.io`; behind a reverse proxy that serves
   * the gateway under a prefix, the prefixed path (e.g. `/herald/socket.io`). The path of `url` is not
   * used: Socket.IO would read it as the namespace.
   */
  path?: string;
  /**
   * Events one subscription may have waiting for its handler. Past it the client stops taking that
   * subscription's events and ends it on the server; once the handler has caught up, it subscribes again
   * after the last event it took, and the server replays the rest at the handler's pace. Default 1 000.
   */
  maxPendingEvents?: number;
}

/**
 * Called once per matching event, in seq order. A returned promise is awaited before the
 * subscription's next event is handed over: when it settles, every event up to this one is handled.
 */
export type EventHandler = (event: HeraldEvent) => void | Promise<void>;

/** Stops a subscription; `ready` settles when the server first accepted (or refused) it. */
export interface Unsubscribe {
  (): Promise<void>;
  readonly ready: Promise<void>;
  /**
   * The seq through which the subscription is handled: its handler has finished every matching event up
   * to it (and the server said none other matched). Persist it and pass it as `after` to resume a
   * restarted process where it stopped. Undefined until the server's first answer.
   */
  readonly cursor: string | undefined;
}

interface LocalSubscription {
  filter: EventFilter;
  /** The caller's `after` (an event id or a seq): what the server is asked for until `position` is known. */
  after?: string;
  handler: EventHandler;
  /**
   * The resume point: the seq of the last event delivered to the handler, or a later one the server
   * said it has served the subscription through (`position`), or the seq it started the subscription
   * after. Unknown until the first answer.
   */
  position?: string;
  /**
   * Retention removed events after `position`: the next subscribe asks for everything still kept
   * (`after: '0'`), and `position` keeps out what the handler already had.
   */
  fromOldest?: boolean;
  /** The server's id for it on the current connection. */
  serverId?: string;
  /** Settles once the last `subscribe` sent for it has been answered (or has failed). */
  answered?: Promise<void>;
  /** Consecutive refusals the server called temporary (see `TRANSIENT_REFUSALS`). */
  retries: number;
  /**
   * Counts `cursor_reset`s: an event taken before one still reaches the handler, but its seq, from the
   * log the server no longer has, must not become the cursor.
   */
  generation: number;
  /** Events taken from the server and not yet handed to the handler, oldest first, each with its generation. */
  pending: Array<{ event: HeraldEvent; generation: number }>;
  /** The handler is working through `pending`. */
  handling: boolean;
  /** See `Unsubscribe.cursor`. */
  handledThrough?: string;
  /** Too many events waited: ended on the server until the handler catches up (see `maxPendingEvents`). */
  paused: boolean;
  settle: { resolve: () => void; reject: (error: HeraldClientError) => void; settled: boolean };
  active: boolean;
}

/**
 * The origin of the gateway's URL. Throws at once on one that names no http(s) origin, such as
 * `localhost:8080` (read as the scheme `localhost:`), which would otherwise be retried forever.
 */
function gatewayOrigin(url: string): string {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || !['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    throw new TypeError(
      `url must be the gateway's http(s) URL, e.g. https://herald.example.com; got "${url}"`,
    );
  }
  return parsed.origin;
}

/** Nothing of the subscription waits for its handler, nor is being handled. */
const isIdle = (subscription: LocalSubscription): boolean =>
  !subscription.handling && subscription.pending.length === 0;

/** The subscription takes no more events, and what waited for its handler is dropped. */
function stop(subscription: LocalSubscription): void {
  subscription.active = false;
  subscription.pending = [];
}

/** Refusals that say "not now" rather than "never": the subscribe is retried on the same connection. */
const TRANSIENT_REFUSALS = new Set(['internal']);
/** Refusals of a resume point the client chose itself, which it answers by going on live (see `continueLive`). */
const RESUME_REFUSALS = new Set(['cursor_expired', 'invalid_cursor']);

type ClientEvents = {
  error: (error: HeraldClientError) => void;
  connected: () => void;
  /** `reason`: the server's code when it said why (`slow_consumer`, `shutting_down`, `cursor_expired`), else socket.io's. */
  disconnected: (reason: string) => void;
};

/**
 * A Herald subscriber. Subscriptions survive reconnects: after any disconnect (network, server
 * restart, a slow-consumer cut-off) each one is re-established with `after` = the last event it took,
 * so the handler sees every matching event once, in seq order.
 */
export class HeraldClient {
  private readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  private readonly subscriptions = new Set<LocalSubscription>();
  private readonly byServerId = new Map<string, LocalSubscription>();
  private readonly listeners: { [K in keyof ClientEvents]: Set<ClientEvents[K]> } = {
    error: new Set(),
    connected: new Set(),
    disconnected: new Set(),
  };
  private readonly ackTimeoutMs: number;
  private readonly retryDelayMaxMs: number;
  private readonly maxPendingEvents: number;
  /** Connection attempts the server's middleware turned down in a row (see `connect_error`). */
  private refusedConnects = 0;
  /** Subscribes left unanswered in a row, each followed by a reconnection (see `establish`). */
  private unansweredSubscribes = 0;
  private closed = false;
  /** The code of the server's `closing` message on this connection (`slow_consumer`, `shutting_down`, `cursor_expired`). */
  private closingCode: string | undefined;
  /** Why the client stopped: `closed` after `close()`, or the fatal error (`unauthorized`) that closed it. */
  private closedWith: HeraldClientError | undefined;

  constructor(options: HeraldClientOptions) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.retryDelayMaxMs = options.reconnectionDelayMaxMs ?? 5_000;
    this.maxPendingEvents = options.maxPendingEvents ?? 1_000;
    if (!(this.maxPendingEvents >= 1)) throw new TypeError('maxPendingEvents must be at least 1');
    this.socket = io(`${gatewayOrigin(options.url)}${EVENTS_NAMESPACE}`, {
      path: options.path ?? '/socket.io',
      auth: { token: options.token },
      transports: ['websocket'],
      reconnectionDelay: 250,
      reconnectionDelayMax: this.retryDelayMaxMs,
    });
    this.socket.on('connect', () => {
      this.refusedConnects = 0;
      this.emit('connected');
      for (const subscription of this.subscriptions) if (!subscription.paused) this.establish(subscription);
    });
    this.socket.on('event', (message) => this.deliver(message));
    this.socket.on('position', ({ subscription: serverId, seq }) => {
      const subscription = this.byServerId.get(serverId);
      if (!subscription?.active || !isAfter(seq, subscription.position)) return;
      subscription.position = seq;
      if (isIdle(subscription)) subscription.handledThrough = seq;
    });
    this.socket.on('closing', (message) => {
      this.closingCode = message.code;
      if (message.code === 'unauthorized') this.fail(new HeraldClientError('unauthorized', message.message));
    });
    this.socket.on('connect_error', (error) => {
      if (error.message === 'unauthorized') {
        this.fail(new HeraldClientError('unauthorized', 'the API key was refused', { cause: error }));
      } else {
        // Every failed attempt is reported, or a client pointed at the wrong host waits in silence.
        this.emit('error', new HeraldClientError('connection_failed', error.message, { cause: error }));
        // socket.io retries network errors by itself, but takes any refusal by the server's middleware
        // as final; only `unauthorized` is (the gateway answers `unavailable` while it cannot check keys).
        if (!this.socket.active) this.later(this.refusedConnects++, () => this.socket.connect());
      }
    });
    this.socket.on('disconnect', (reason) => {
      this.byServerId.clear();
      for (const subscription of this.subscriptions) subscription.serverId = undefined;
      // Why the server closed, when it said so, tells more than socket.io's "io server disconnect".
      this.emit('disconnected', this.closingCode ?? reason);
      this.closingCode = undefined;
      // The server closed on purpose (slow consumer, restart): socket.io leaves that to us.
      if (reason === 'io server disconnect' && !this.closed) this.later(0, () => this.socket.connect());
    });
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  /** Starts a subscription (contract §6 filter; `after` replays stored events first). */
  subscribe(filter: EventFilter & { after?: string }, handler: EventHandler): Unsubscribe {
    let settle!: LocalSubscription['settle'];
    const ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject, settled: false };
    });
    ready.catch(() => undefined);
    const { after, ...rest } = filter;
    const subscription: LocalSubscription = {
      filter: rest,
      after,
      handler,
      settle,
      active: true,
      retries: 0,
      pending: [],
      generation: 0,
      handling: false,
      paused: false,
    };
    if (this.closed) this.settle(subscription, this.closedWith ?? closedError());
    else {
      this.subscriptions.add(subscription);
      if (this.socket.connected) this.establish(subscription);
    }
    const unsubscribe = async () => {
      stop(subscription);
      this.subscriptions.delete(subscription);
      // A subscribe still unanswered brings the id to end on the server; one never sent has nothing there.
      await subscription.answered;
      this.settle(subscription);
      await this.endOnServer(subscription);
    };
    return Object.defineProperties(Object.assign(unsubscribe, { ready }), {
      cursor: { get: () => subscription.handledThrough, enumerable: true },
    }) as Unsubscribe;
  }

  /** Ends the subscription's current id on the server (nothing to do while disconnected: it went with the connection). */
  private async endOnServer(subscription: LocalSubscription): Promise<void> {
    const serverId = subscription.serverId;
    subscription.serverId = undefined;
    if (!serverId) return;
    this.byServerId.delete(serverId);
    if (!this.socket.connected) return;
    await this.socket
      .timeout(this.ackTimeoutMs)
      .emitWithAck('unsubscribe', { id: serverId })
      .catch(() => undefined);
  }

  /** Disconnects for good; subscriptions the server has not accepted yet reject `ready` (code `closed`). */
  close(): void {
    this.closed = true;
    const error = (this.closedWith ??= closedError());
    for (const subscription of this.subscriptions) {
      // No handler starts after close: the caller may be shutting down what handlers use.
      stop(subscription);
      this.settle(subscription, error);
    }
    this.socket.disconnect();
  }

  /**
   * (Re)subscribes on the current connection. The ack is handled in its callback, not after an `await`:
   * the server sends replayed events right behind the ack, often in the same read, and they must find the
   * subscription's new id already registered.
   */
  private establish(subscription: LocalSubscription): void {
    const { types, sources } = subscription.filter;
    const resuming = subscription.position !== undefined;
    const after = subscription.fromOldest ? '0' : (subscription.position ?? subscription.after);
    const connection = this.socket.id;
    let answered!: () => void;
    subscription.answered = new Promise((resolve) => (answered = resolve));
    this.socket.timeout(this.ackTimeoutMs).emit('subscribe', { types, sources, after }, (error, result) => {
      answered();
      // An answer from a connection that has gone since is void (the new one subscribes afresh).
      const current = this.socket.id === connection;
      if (!subscription.active) {
        // Unsubscribed while this was unanswered: `unsubscribe` ends the server's side with this id.
        if (current && !error && result.ok) subscription.serverId = result.id;
        return;
      }
      if (!current) return;
      if (error) {
        // No answer in time on a live connection: the server may still set the subscription up, with an
        // id this client never learns. Reconnecting drops it there and resumes every subscription, after
        // a backoff: a server slow to answer is often one that thousands of clients reconnected to at
        // once (a restart), and reconnecting at once threw away the replay each was waiting for.
        this.emit(
          'error',
          new HeraldClientError('subscribe_failed', 'no answer to subscribe; reconnecting', { cause: error }),
        );
        if (this.socket.connected) {
          this.socket.disconnect();
          this.later(this.unansweredSubscribes++, () => this.socket.connect());
        }
        return;
      }
      if (!result.ok && resuming && RESUME_REFUSALS.has(result.error.code)) {
        this.continueLive(subscription, result.error);
        return;
      }
      if (!result.ok) {
        const refusal = new HeraldClientError(
          'subscribe_failed',
          `${result.error.code}: ${result.error.message}`,
          { cause: result.error, serverCode: result.error.code },
        );
        this.emit('error', refusal);
        if (TRANSIENT_REFUSALS.has(result.error.code)) {
          this.later(subscription.retries++, () => {
            if (subscription.active && this.socket.id === connection) this.establish(subscription);
          });
          return;
        }
        this.subscriptions.delete(subscription);
        this.settle(subscription, refusal);
        return;
      }
      subscription.retries = 0;
      this.unansweredSubscribes = 0;
      subscription.fromOldest = false;
      subscription.serverId = result.id;
      subscription.position ??= result.cursor;
      // With events of before a reset still waiting, the end of `handle` sets it (to `position`).
      if (isIdle(subscription)) subscription.handledThrough ??= result.cursor;
      this.byServerId.set(result.id, subscription);
      this.settle(subscription);
    });
  }

  /**
   * The server cannot resume the subscription where this client left it: retention removed events
   * since (`cursor_expired`), or its log no longer reaches that far (`invalid_cursor`: its database was
   * restored from an older backup). Ending the subscription would leave the caller with a handler that
   * silently gets nothing more; instead it says what happened and goes on: after an expiry from the
   * oldest event the server still keeps (what retention left of the missed ones is not lost too), after
   * a reset from the server's present.
   */
  private continueLive(subscription: LocalSubscription, refusal: SocketError): void {
    const expired = refusal.code === 'cursor_expired';
    this.emit(
      'error',
      new HeraldClientError(
        expired ? 'cursor_expired' : 'cursor_reset',
        `could not resume after seq ${subscription.position}: ` +
          (expired
            ? 'retention has removed events since; events may have been missed, continuing with the oldest event kept'
            : 'the server’s log ends before it (its database was restored?); events may have been missed or come again, continuing with new events'),
        { cause: refusal, serverCode: refusal.code },
      ),
    );
    if (expired) {
      subscription.fromOldest = true;
      this.establish(subscription);
      return;
    }
    subscription.position = undefined;
    subscription.after = undefined;
    subscription.handledThrough = undefined;
    subscription.generation++;
    this.establish(subscription);
  }

  /**
   * Runs `retry` after a backoff for the `attempt`-th retry in a row (250 ms doubling, capped, less up
   * to half at random so clients refused together do not come back together), unless closed.
   */
  private later(attempt: number, retry: () => void): void {
    const delay = Math.min(250 * 2 ** Math.min(attempt, 10), this.retryDelayMaxMs);
    setTimeout(() => !this.closed && retry(), delay * (0.5 + Math.random() / 2));
  }

  private deliver({ subscription: serverId, event }: EventMessage): void {
    const subscription = this.byServerId.get(serverId);
    if (!subscription?.active || subscription.paused) return;
    if (!isAfter(event.seq, subscription.position)) return;
    subscription.position = event.seq;
    subscription.pending.push({ event, generation: subscription.generation });
    // Started first: the event the handler takes at once does not count as waiting.
    if (!subscription.handling) void this.handle(subscription);
    if (subscription.pending.length >= this.maxPendingEvents) this.pause(subscription);
  }

  /**
   * The handler falls behind: the server's bound on what waits for a socket does not see what waits
   * here, so without this a slow handler made the client's memory grow with the publishing rate. The
   * subscription ends on the server and takes no more; `handle` subscribes again once it caught up.
   */
  private pause(subscription: LocalSubscription): void {
    subscription.paused = true;
    void this.endOnServer(subscription);
  }

  /**
   * Hands the subscription's pending events to its handler one at a time, each awaited. An event whose
   * handler threw counts as handled (reported as `handler_failed`): retrying it is the handler's call.
   */
  private async handle(subscription: LocalSubscription): Promise<void> {
    subscription.handling = true;
    for (let next = subscription.pending.shift(); next; next = subscription.pending.shift()) {
      const { event, generation } = next;
      try {
        await subscription.handler(event);
      } catch (error) {
        this.emit(
          'error',
          new HeraldClientError('handler_failed', 'an event handler threw', { cause: error }),
        );
      }
      if (!subscription.active) break;
      if (generation === subscription.generation) subscription.handledThrough = event.seq;
    }
    // All taken is handled: a position announced meanwhile (events that did not match) counts now.
    if (subscription.active && isAfter(subscription.position ?? '0', subscription.handledThrough)) {
      subscription.handledThrough = subscription.position;
    }
    subscription.handling = false;
    if (subscription.paused && subscription.active) {
      subscription.paused = false;
      if (this.socket.connected) this.establish(subscription);
    }
  }

  private settle(subscription: LocalSubscription, error?: HeraldClientError): void {
    if (subscription.settle.settled) return;
    subscription.settle.settled = true;
    if (error) subscription.settle.reject(error);
    else subscription.settle.resolve();
  }

  private fail(error: HeraldClientError): void {
    this.closedWith = error;
    for (const subscription of this.subscriptions) this.settle(subscription, error);
    this.emit('error', error);
    this.close();
  }

  /**
   * A listener that throws does not stop the client midway (a subscription's handling, a reconnect):
   * its error is thrown again outside, as an uncaught exception, like any other in the caller's code.
   */
  private emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (...a: Parameters<ClientEvents[K]>) => void)(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

function closedError(): HeraldClientError {
  return new HeraldClientError('closed', 'the client was closed');
}

/** Whether `seq` lies after `position` (anything does when there is no position yet). */
function isAfter(seq: string, position: string | undefined): boolean {
  return position === undefined || BigInt(seq) > BigInt(position);
}

/** Connects to Herald's subscriber socket. */
export function connect(options: HeraldClientOptions): HeraldClient {
  return new HeraldClient(options);
}
