import {
  systemClock,
  type Clock,
  type NormalizedEvent,
  type StreamContext,
  type StreamStateChange,
} from '@herald/events';
import type { ServerSocketTiming } from '../../src/index.js';

/** Milliseconds instead of seconds, so reconnects and dead-connection checks happen within a test. */
export const FAST_TIMING: ServerSocketTiming = {
  handshakeTimeoutMs: 300,
  pingIntervalMs: 40,
  pongTimeoutMs: 100,
  closeTimeoutMs: 200,
  backoff: { initialMs: 20, maxMs: 80 },
};

/** The system clock, counting timers that are still pending, so tests can assert none are left. */
export function trackingClock(): Clock & { readonly pendingTimers: number } {
  const pending = new Set<unknown>();
  return {
    now: () => systemClock.now(),
    setTimeout(callback, ms) {
      const handle = systemClock.setTimeout(() => {
        pending.delete(handle);
        callback();
      }, ms);
      pending.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      pending.delete(handle);
      systemClock.clearTimeout(handle);
    },
    get pendingTimers() {
      return pending.size;
    },
  };
}

export interface RecordingContext {
  context: StreamContext;
  clock: ReturnType<typeof trackingClock>;
  states: StreamStateChange[];
  events: NormalizedEvent[];
  errorLogs: object[];
}

/** A StreamContext that records states, committed events and error logs; `emit` may be replaced. */
export function recordingContext(
  emit?: (events: NormalizedEvent[], stored: NormalizedEvent[]) => Promise<void>,
): RecordingContext {
  const recorded: Omit<RecordingContext, 'context'> = {
    clock: trackingClock(),
    states: [],
    events: [],
    errorLogs: [],
  };
  const ignore = () => undefined;
  const context: StreamContext = {
    sourceId: 'source-1',
    emit: emit
      ? (events) => emit(events, recorded.events)
      : async (events) => {
          recorded.events.push(...events);
        },
    lastDedupKey: async () => null,
    setState: (change) => recorded.states.push(change),
    logger: { debug: ignore, info: ignore, warn: ignore, error: (obj) => recorded.errorLogs.push(obj) },
    clock: recorded.clock,
    random: () => 0.5,
  };
  return { ...recorded, context };
}

export function stateNames(states: readonly StreamStateChange[]): string[] {
  return states.map((change) => change.state);
}
