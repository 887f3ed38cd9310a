import { HERALD_PROVIDER } from '@herald/events';
import { v7 as uuidv7 } from 'uuid';
import type { NewEvent } from '../../events/event-record.js';

/**
 * When the reported change happened (the event's `time`), and when the event is appended. They differ
 * only for an event recovery appends after its first append was lost (see HealthEventRecovery).
 */
export interface ReportTimes {
  at: Date;
  now: Date;
}

/**
 * Herald's own `herald.endpoint.disabled` / `herald.delivery.failing` events: source = the endpoint,
 * so operators filter on it like on any source. They reach every matching endpoint except the one
 * they are about (see MATCHES_ENDPOINT), and a failed delivery of a `herald.delivery.failing` event
 * raises no further one: a chain of failing endpoints reporting on each other ends after one hop.
 * Each carries a dedup key made only of what the store keeps about its cause, so the append after the
 * outcome and any later recovery of it store one event between them.
 */
function endpointEvent(
  type: string,
  endpointId: string,
  data: Record<string, unknown>,
  dedupKey: string,
  { at, now }: ReportTimes,
): NewEvent {
  return {
    id: uuidv7(),
    type,
    sourceId: endpointId,
    provider: HERALD_PROVIDER,
    subject: `endpoints/${endpointId}`,
    time: at,
    receivedAt: now,
    data,
    raw: null,
    rawContentType: null,
    dedupKey,
  };
}

export const DELIVERY_FAILING_TYPE = 'herald.delivery.failing';

/**
 * The endpoint's URL as its health events show it: the origin, and `/…` for whatever followed. These
 * events reach every key that may read events, while the endpoint itself is for admin keys only, and
 * receivers carry their tokens in the path (`/services/T0/B0/<token>`) or the query (`?token=…`).
 */
function shownEndpointUrl(url: string): string {
  const { origin, pathname, search } = new URL(url);
  return pathname === '/' && !search ? origin : `${origin}/…`;
}

/**
 * `times.at` is when Herald disabled the endpoint, as stored in `disable_report_due_at`: it tells this
 * disabling from a later one after the endpoint was enabled again.
 */
export function endpointDisabledEvent(
  endpoint: { id: string; url: string },
  reason: string,
  times: ReportTimes,
): NewEvent {
  return endpointEvent(
    'herald.endpoint.disabled',
    endpoint.id,
    { endpointId: endpoint.id, url: shownEndpointUrl(endpoint.url), reason },
    `endpoint-disabled:${endpoint.id}:${times.at.getTime()}`,
    times,
  );
}

/**
 * `delivery.attempts` counts the attempt that failed the delivery: it tells this failure from a later
 * one after a retry on request.
 */
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
  times: ReportTimes,
): NewEvent {
  return endpointEvent(
    DELIVERY_FAILING_TYPE,
    delivery.endpointId,
    {
      endpointId: delivery.endpointId,
      url: shownEndpointUrl(delivery.url),
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      eventType: delivery.eventType,
      attempts: delivery.attempts,
      lastResponseStatus: last.responseStatus,
      lastError: last.error,
    },
    `delivery-failing:${delivery.id}:${delivery.attempts}`,
    times,
  );
}
