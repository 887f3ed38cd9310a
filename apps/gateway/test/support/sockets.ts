import type {
  ClientToServerEvents,
  HeraldEvent,
  ServerToClientEvents,
  SubscribeRequest,
  SubscribeResult,
} from '@herald/events';
import { io, type Socket } from 'socket.io-client';

export type RawSubscriber = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A bare socket.io-client on the `/events` namespace; resolves once connected or rejects with the connect_error. */
export function connectSocket(baseUrl: string, token: string | undefined): Promise<RawSubscriber> {
  const socket: RawSubscriber = io(`${baseUrl}/events`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

export function subscribe(
  socket: RawSubscriber,
  request: SubscribeRequest | unknown,
): Promise<SubscribeResult> {
  return socket.timeout(10_000).emitWithAck('subscribe', request as SubscribeRequest);
}

/** Collects the events a socket receives, per subscription id. */
export function collect(socket: RawSubscriber): Map<string, HeraldEvent[]> {
  const received = new Map<string, HeraldEvent[]>();
  socket.on('event', ({ subscription, event }) => {
    const list = received.get(subscription) ?? [];
    list.push(event);
    received.set(subscription, list);
  });
  return received;
}
