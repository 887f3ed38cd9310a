import {
  Ack,
  ConnectedSocket,
  MessageBody,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { EVENTS_NAMESPACE, type SubscribeResult, type UnsubscribeResult } from '@herald/events';
import { ApiKeyService } from '../api-keys/api-key.service.js';
import { grants, type Principal } from '../common/auth/scope.js';
import { ClusterBus, type EventsNamespace } from '../cluster/cluster-bus.js';
import { coalesceWebsocketWrites } from './coalesce-writes.js';
import { type SubscriberSocket, SubscriptionHub } from './subscription-hub.service.js';
import { DrainState } from '../health/drain-state.js';

/**
 * A transport connection that has joined no namespace this long after it opened is closed. A client
 * sends its CONNECT with its first packet; socket.io's default (45 s) let anyone hold connections
 * without a key, refused ones included, for that long.
 */
const JOIN_TIMEOUT_MS = 10_000;

const CLIENT_EVENTS: ReadonlySet<string> = new Set(['subscribe', 'unsubscribe']);

/** An event the server does not take, sent with an ack, is answered rather than left waiting forever. */
function answerUnknownEvent(event: unknown, args: unknown[]): void {
  const ack = args.at(-1);
  if (CLIENT_EVENTS.has(String(event)) || typeof ack !== 'function') return;
  const result: UnsubscribeResult = {
    ok: false,
    error: {
      code: 'unknown_event',
      message: `unknown event ${JSON.stringify(String(event).slice(0, 100))}: the server takes subscribe and unsubscribe`,
    },
  };
  (ack as (answer: UnsubscribeResult) => void)(result);
}

/** Contract §6: the `/events` namespace. Handlers answer through acks and never throw at the socket. */
@WebSocketGateway({
  namespace: EVENTS_NAMESPACE,
  cors: { origin: true },
  maxHttpBufferSize: 64 * 1024,
  connectTimeout: JOIN_TIMEOUT_MS,
})
export class EventsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  /**
   * Who each handshake authenticated as, until the socket connects. A client may leave while its key
   * is being looked up; such a socket never connects and never disconnects, so it must not reach the
   * hub before `connection`.
   */
  private readonly principals = new WeakMap<object, Principal>();

  constructor(
    private readonly hub: SubscriptionHub,
    private readonly apiKeys: ApiKeyService,
    private readonly bus: ClusterBus,
    private readonly drain: DrainState,
  ) {}

  afterInit(namespace: EventsNamespace): void {
    namespace.use((socket, next) => {
      // A client refused as unavailable reconnects, through the balancer, to another instance.
      if (this.drain.active) return next(new Error('unavailable'));
      const token: unknown = socket.handshake.auth?.token;
      const refuse = () => next(new Error('unauthorized'));
      if (typeof token !== 'string' || token.length === 0) return refuse();
      this.apiKeys.authenticate(token).then(
        (principal) => {
          if (!principal || !grants(principal.scopes, 'subscribe')) return refuse();
          this.principals.set(socket, principal);
          next();
        },
        () => next(new Error('unavailable')),
      );
    });
    this.bus.attach(namespace);
    // The root namespace serves nothing, and would let anyone hold a connection without a key.
    namespace.server
      .of('/')
      .use((_socket, next) => next(new Error(`not_found: connect to ${EVENTS_NAMESPACE}`)));
  }

  handleConnection(socket: SubscriberSocket): void {
    const principal = this.principals.get(socket);
    if (!principal) return void socket.disconnect(true);
    this.principals.delete(socket);
    this.hub.attach(socket, principal);
    coalesceWebsocketWrites(socket.conn);
    socket.onAny((event: unknown, ...args: unknown[]) => answerUnknownEvent(event, args));
  }

  handleDisconnect(socket: SubscriberSocket): void {
    this.hub.detach(socket);
  }

  @SubscribeMessage('subscribe')
  async subscribe(
    @ConnectedSocket() socket: SubscriberSocket,
    @MessageBody() payload: unknown,
    @Ack() ack: ((result: SubscribeResult) => void) | undefined,
  ): Promise<void> {
    // Without an ack the client never learns the subscription's id, and could neither resume nor end
    // it: nothing is set up, rather than a subscription only the socket's end stops.
    if (!ack) return;
    ack(await this.hub.subscribe(socket, payload));
  }

  @SubscribeMessage('unsubscribe')
  unsubscribe(
    @ConnectedSocket() socket: SubscriberSocket,
    @MessageBody() payload: unknown,
  ): UnsubscribeResult {
    return this.hub.unsubscribe(socket, payload);
  }
}
