import {
  type Backoff,
  sourceSubject,
  type NormalizedEvent,
  type ProviderAdapter,
  type StreamState,
  type StreamStateChange,
} from '@herald/events';
import type { SourceEntity } from './source.entity.js';

/** What the state events need to know of a running stream source. */
export interface StreamRun {
  source: SourceEntity;
  adapter: ProviderAdapter;
  reconnects: number;
  /** Whether it has been connected at all since it started on this instance. */
  connectedOnce: boolean;
  /**
   * The waits before it is started again after refusals of its credentials; its `attempts` count the
   * refusals since it was last connected, the one being reported included.
   */
  authRetry: Backoff;
  /** The wait before the start after the latest refusal. */
  authRetryMs: number;
  /**
   * An earlier run of this source ended before this one began: on this instance or another (a
   * restart, a crash, a lost database session, a takeover), or before the source was disabled or
   * changed. Nothing was received in between.
   */
  followsEarlierRun: boolean;
}

/**
 * The `herald.source.*` event a stream state transition means, if any: operators subscribe to these
 * like to any other event.
 */
export function sourceStateEvent(
  run: StreamRun,
  previous: StreamState,
  change: StreamStateChange,
): NormalizedEvent | undefined {
  const { source, adapter, reconnects } = run;
  const base = { sourceId: source.id, sourceName: source.name, provider: source.provider };
  const subject = sourceSubject(source.id);
  if (change.state === 'connected' && previous !== 'connected') {
    // The first connection of a run that follows another: whatever the provider sent while no run held
    // the source is lost to a provider that keeps no replay, and no `disconnected` could say so (a
    // crashed holder stores nothing).
    const resumed = !run.connectedOnce && run.followsEarlierRun;
    return {
      type: 'herald.source.connected',
      subject,
      data: { ...base, reconnects, resumed, mayHaveMissedEvents: resumed && adapter.disconnectMayLoseEvents },
    };
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
  const reason = change.reason ?? null;
  // The first refusal in a row is reported, not each start again after it.
  if (change.state === 'auth_failed' && previous !== 'auth_failed' && run.authRetry.attempts === 1) {
    const retryInSeconds = Math.round(run.authRetryMs / 1000);
    return {
      type: 'herald.source.failed',
      subject,
      data: { ...base, reason, retrying: true, retryInSeconds },
    };
  }
  // A source that never gets through (a wrong URL, a server down) would otherwise say nothing: its first
  // attempt's failure is reported, once; the status counts the retries.
  if (change.state === 'backoff' && !run.connectedOnce && reconnects === 0) {
    return { type: 'herald.source.failed', subject, data: { ...base, reason, retrying: true } };
  }
  return undefined;
}
