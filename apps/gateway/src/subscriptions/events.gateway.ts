import {
  ConnectedSocket,
  MessageBody,
  type OnGatewayDisconnect,
  type OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { EVENTS_NAMESPACE, type SubscribeResult, type UnsubscribeResult } from '@herald/events';
import { ApiKeyService } from '../api-keys/api-key.service.js';
import { grants } from '../common/auth/scope.js';
import { ClusterBus, type EventsNamespace } from '../cluster/cluster-bus.js';
import { coalesceWebsocketWrites } from './coalesce-writes.js';
import { type SubscriberSocket, SubscriptionHub } from './subscription-hub.service.js';

/** Contract §6: the `/events` namespace. Handlers answer through acks and never throw at the socket. */
@WebSocketGateway({ namespace: EVENTS_NAMESPACE, cors: { origin: true }, maxHttpBufferSize: 64 * 1024 })
export class EventsGateway implements OnGatewayInit, OnGatewayDisconnect {
  constructor(
    private readonly hub: SubscriptionHub,
    private readonly apiKeys: ApiKeyService,
    private readonly bus: ClusterBus,
  ) {}

  afterInit(namespace: EventsNamespace): void {
    namespace.use((socket, next) => {
      const token: unknown = socket.handshake.auth?.token;
      const refuse = () => next(new Error('unauthorized'));
      if (typeof token !== 'string' || token.length === 0) return refuse();
      this.apiKeys.authenticate(token).then(
        (principal) => {
          if (!principal || !grants(principal.scopes, 'subscribe')) return refuse();
          this.hub.attach(socket as SubscriberSocket, principal);
          coalesceWebsocketWrites(socket.conn);
          next();
        },
        () => next(new Error('unavailable')),
      );
    });
    this.bus.attach(namespace);
  }

  handleDisconnect(socket: SubscriberSocket): void {
    this.hub.detach(socket);
  }

  @SubscribeMessage('subscribe')
  subscribe(
    @ConnectedSocket() socket: SubscriberSocket,
    @MessageBody() payload: unknown,
  ): Promise<SubscribeResult> {
    return this.hub.subscribe(socket, payload);
  }

  @SubscribeMessage('unsubscribe')
  unsubscribe(
    @ConnectedSocket() socket: SubscriberSocket,
    @MessageBody() payload: unknown,
  ): UnsubscribeResult {
    return this.hub.unsubscribe(socket, payload);
  }
}
