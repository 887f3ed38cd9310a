import {
  type ClientToServerEvents,
  type EventFilter,
  EVENTS_NAMESPACE,
  type EventMessage,
  type HeraldEvent,
  type ServerToClientEvents,
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
}

export type EventHandler = (event: HeraldEvent) => void | Promise<void>;

/** Stops a subscription; `ready` settles when the server first accepted (or refused) it. */
export interface Unsubscribe {
  (): Promise<void>;
  readonly ready: Promise<void>;
}

interface LocalSubscription {
  filter: EventFilter & { after?: string };
  handler: EventHandler;
  /** Seq of the last event delivered to the handler (or where the server started us): the resume point. */
  position?: string;
  serverId?: string;
  settle: { resolve: () => void; reject: (error: HeraldClientError) => void; settled: boolean };
  active: boolean;
}

type ClientEvents = {
  error: (error: HeraldClientError) => void;
  connected: () => void;
  disconnected: (reason: string) => void;
};

/**
 * A Herald subscriber. Subscriptions survive reconnects: after any disconnect (network, server
 * restart, a slow-consumer cut-off) each one is re-established with `after` = the last event its
 * handler received, so the handler sees every matching event once, in seq order.
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
  private closed = false;

  constructor(options: HeraldClientOptions) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.socket = io(new URL(EVENTS_NAMESPACE, options.url).toString(), {
      auth: { token: options.token },
      transports: ['websocket'],
      reconnectionDelay: 250,
      reconnectionDelayMax: options.reconnectionDelayMaxMs ?? 5_000,
    });
    this.socket.on('connect', () => {
      this.emit('connected');
      for (const subscription of this.subscriptions) this.establish(subscription);
    });
    this.socket.on('event', (message) => this.deliver(message));
    this.socket.on('closing', (message) => {
      if (message.code === 'unauthorized') this.fail(new HeraldClientError('unauthorized', message.message));
    });
    this.socket.on('connect_error', (error) => {
      // A refusal by the server's middleware is final; socket.io retries network errors by itself.
      if (error.message === 'unauthorized')
        this.fail(new HeraldClientError('unauthorized', 'the API key was refused', { cause: error }));
      else if (!this.socket.active)
        this.emit('error', new HeraldClientError('connection_failed', error.message, { cause: error }));
    });
    this.socket.on('disconnect', (reason) => {
      this.byServerId.clear();
      this.emit('disconnected', reason);
      // The server closed on purpose (slow consumer, restart): socket.io leaves that to us.
      if (reason === 'io server disconnect' && !this.closed)
        setTimeout(() => !this.closed && this.socket.connect(), 250);
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
    const subscription: LocalSubscription = { filter, handler, position: filter.after, settle, active: true };
    this.subscriptions.add(subscription);
    if (this.socket.connected) this.establish(subscription);
    const unsubscribe = async () => {
      subscription.active = false;
      this.subscriptions.delete(subscription);
      const serverId = subscription.serverId;
      if (serverId && this.socket.connected) {
        this.byServerId.delete(serverId);
        await this.socket
          .timeout(this.ackTimeoutMs)
          .emitWithAck('unsubscribe', { id: serverId })
          .catch(() => undefined);
      }
    };
    return Object.assign(unsubscribe, { ready });
  }

  close(): void {
    this.closed = true;
    this.socket.disconnect();
  }

  /**
   * (Re)subscribes on the current connection. The ack is handled in its callback, not after an `await`:
   * the server sends replayed events right behind the ack, often in the same read, and they must find the
   * subscription's new id already registered.
   */
  private establish(subscription: LocalSubscription): void {
    const { types, sources } = subscription.filter;
    this.socket
      .timeout(this.ackTimeoutMs)
      .emit('subscribe', { types, sources, after: subscription.position }, (error, result) => {
        if (!subscription.active) return;
        if (error) {
          // No answer in time: the connection is probably gone; the next `connect` retries.
          this.emit(
            'error',
            new HeraldClientError('subscribe_failed', 'no answer to subscribe', { cause: error }),
          );
          return;
        }
        if (!result.ok) {
          this.subscriptions.delete(subscription);
          const refusal = new HeraldClientError(
            'subscribe_failed',
            `${result.error.code}: ${result.error.message}`,
            {
              cause: result.error,
            },
          );
          this.settle(subscription, refusal);
          this.emit('error', refusal);
          return;
        }
        subscription.serverId = result.id;
        subscription.position ??= result.cursor;
        this.byServerId.set(result.id, subscription);
        this.settle(subscription);
      });
  }

  private deliver({ subscription: serverId, event }: EventMessage): void {
    const subscription = this.byServerId.get(serverId);
    if (!subscription?.active) return;
    if (subscription.position !== undefined && BigInt(event.seq) <= BigInt(subscription.position)) return;
    subscription.position = event.seq;
    try {
      const result = subscription.handler(event);
      if (result instanceof Promise) result.catch((error) => this.reportHandlerError(error));
    } catch (error) {
      this.reportHandlerError(error);
    }
  }

  private reportHandlerError(error: unknown): void {
    this.emit('error', new HeraldClientError('handler_failed', 'an event handler threw', { cause: error }));
  }

  private settle(subscription: LocalSubscription, error?: HeraldClientError): void {
    if (subscription.settle.settled) return;
    subscription.settle.settled = true;
    if (error) subscription.settle.reject(error);
    else subscription.settle.resolve();
  }

  private fail(error: HeraldClientError): void {
    for (const subscription of this.subscriptions) this.settle(subscription, error);
    this.emit('error', error);
    this.close();
  }

  private emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const listener of this.listeners[event])
      (listener as (...a: Parameters<ClientEvents[K]>) => void)(...args);
  }
}

/** Connects to Herald's subscriber socket. */
export function connect(options: HeraldClientOptions): HeraldClient {
  return new HeraldClient(options);
}
