import { HERALD_PROVIDER } from '@herald/events';
import { v7 as uuidv7 } from 'uuid';
import type { NewEvent } from '../../events/event-record.js';

/**
 * Herald's own `herald.endpoint.disabled` / `herald.delivery.failing` events: source = the endpoint,
 * so operators filter on it like on any source. They reach every matching endpoint except the one
 * they are about (see MATCHES_ENDPOINT), and a failed delivery of a `herald.delivery.failing` event
 * raises no further one: a chain of failing endpoints reporting on each other ends after one hop.
 */
function endpointEvent(type: string, endpointId: string, data: Record<string, unknown>, now: Date): NewEvent {
  return {
    id: uuidv7(),
    type,
    sourceId: endpointId,
    provider: HERALD_PROVIDER,
    subject: `endpoints/${endpointId}`,
    time: now,
    receivedAt: now,
    data,
    raw: null,
    rawContentType: null,
    dedupKey: null,
  };
}

export const DELIVERY_FAILING_TYPE = 'herald.delivery.failing';

export function endpointDisabledEvent(endpoint: { id: string; url: string }, reason: string, now: Date) {
  return endpointEvent(
    'herald.endpoint.disabled',
    endpoint.id,
    { endpointId: endpoint.id, url: endpoint.url, reason },
    now,
  );
}

export function deliveryFailingEvent(
  delivery: {
    id: string;
    endpointId: string;
    url: string;
    eventId: string;
    eventType: string;
    attempts: number;
  },
  last: { responseStatus: number | null; error: string | null },
  now: Date,
): NewEvent {
  return endpointEvent(
    DELIVERY_FAILING_TYPE,
    delivery.endpointId,
    {
      endpointId: delivery.endpointId,
      url: delivery.url,
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      eventType: delivery.eventType,
      attempts: delivery.attempts,
      lastResponseStatus: last.responseStatus,
      lastError: last.error,
    },
    now,
  );
}
