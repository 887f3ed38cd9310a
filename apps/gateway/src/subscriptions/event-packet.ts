import { EVENTS_NAMESPACE, type HeraldEvent } from '@herald/events';

/**
 * The Socket.IO (protocol v5) text packet for `emit('event', {subscription, event})` on `/events`:
 * `2/events,["event",{...}]`. Building it by hand lets fan-out serialize each event once for all
 * subscribers instead of once per socket (socket.io encodes every emit separately); the bytes on the wire
 * are exactly what `socket.emit` would send.
 */
const PREFIX = `2${EVENTS_NAMESPACE},["event",{"subscription":`;

export function eventPacket(subscriptionId: string, eventJson: string): string {
  return `${PREFIX}${JSON.stringify(subscriptionId)},"event":${eventJson}}]`;
}

/** Serializes each event of a batch once, however many subscriptions it goes to. */
export class EventJsonCache {
  private readonly cache = new WeakMap<HeraldEvent, string>();

  json(event: HeraldEvent): string {
    let json = this.cache.get(event);
    if (json === undefined) {
      json = JSON.stringify(event);
      this.cache.set(event, json);
    }
    return json;
  }
}
