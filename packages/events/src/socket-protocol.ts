import type { HeraldEvent } from './envelope.js';

/** Contract §6: the `/events` namespace of Herald's Socket.IO server. */
export const EVENTS_NAMESPACE = '/events';

export interface SubscribeRequest {
  types?: readonly string[];
  sources?: readonly string[];
  /** Event id or seq: replay every stored matching event after it, then continue live. */
  after?: string;
}

export type SocketErrorCode =
  | 'invalid_filter'
  | 'invalid_request'
  | 'invalid_cursor'
  | 'cursor_expired'
  | 'unknown_subscription'
  | 'too_many_subscriptions'
  /** The client emitted an event the server does not take (only `subscribe` and `unsubscribe`). */
  | 'unknown_event'
  | 'internal';

export interface SocketError {
  code: SocketErrorCode;
  message: string;
}

/**
 * `cursor` (an addition to contract §6) is the seq the subscription starts after, so a client that has
 * received nothing yet can still resume without a gap.
 */
export type SubscribeResult = { ok: true; id: string; cursor: string } | { ok: false; error: SocketError };
export type UnsubscribeResult = { ok: true } | { ok: false; error: SocketError };

export interface EventMessage {
  subscription: string;
  event: HeraldEvent;
}

/**
 * (An addition to contract §6.) How far the server has served a subscription: every matching event with
 * `seq` ≤ this one has been sent. Sent now and then when the subscription's position moved on past events
 * it did not match, so a client whose filter matches rarely still has a recent position to resume from
 * (one older than the retention period could not be resumed).
 */
export interface PositionMessage {
  subscription: string;
  seq: string;
}

/**
 * Why the server is about to close a connection (sent just before it disconnects). `cursor_expired`:
 * retention removed events after a replaying subscription's position before they were sent; subscribing
 * again from that position is refused with `cursor_expired`.
 */
export interface ClosingMessage {
  code: 'slow_consumer' | 'unauthorized' | 'shutting_down' | 'cursor_expired';
  message: string;
}

export interface ServerToClientEvents {
  event: (message: EventMessage) => void;
  closing: (message: ClosingMessage) => void;
  position: (message: PositionMessage) => void;
}

export interface ClientToServerEvents {
  subscribe: (request: SubscribeRequest, ack: (result: SubscribeResult) => void) => void;
  unsubscribe: (request: { id: string }, ack: (result: UnsubscribeResult) => void) => void;
}
