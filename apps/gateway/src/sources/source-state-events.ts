import {
  sourceSubject,
  type NormalizedEvent,
  type ProviderAdapter,
  type StreamState,
  type StreamStateChange,
} from '@herald/events';
import type { SourceEntity } from './source.entity.js';

/**
 * The `herald.source.*` event a stream state transition means, if any: operators subscribe to these
 * like to any other event.
 */
export function sourceStateEvent(
  source: SourceEntity,
  adapter: ProviderAdapter,
  previous: StreamState,
  change: StreamStateChange,
  reconnects: number,
): NormalizedEvent | undefined {
  const base = { sourceId: source.id, sourceName: source.name, provider: source.provider };
  const subject = sourceSubject(source.id);
  if (change.state === 'connected' && previous !== 'connected') {
    return { type: 'herald.source.connected', subject, data: { ...base, reconnects } };
  }
  if (previous === 'connected' && (change.state === 'backoff' || change.state === 'connecting')) {
    return {
      type: 'herald.source.disconnected',
      subject,
      data: {
        ...base,
        reason: change.reason ?? null,
        // The provider keeps no replay: events sent while we were away are lost, a possible gap.
        mayHaveMissedEvents: adapter.disconnectMayLoseEvents,
      },
    };
  }
  if (change.state === 'auth_failed' && previous !== 'auth_failed') {
    return { type: 'herald.source.failed', subject, data: { ...base, reason: change.reason ?? null } };
  }
  return undefined;
}
