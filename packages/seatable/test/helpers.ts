import type { AdapterLogger, Clock, NormalizedEvent, StreamContext, StreamStateChange } from '@herald/events';
import { systemClock } from '@herald/events';

/** Polls until `check` passes (returns normally), failing after `timeoutMs` with its last error. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** A `Clock` that only moves when the test advances it. */
export class FakeClock implements Clock {
  private current: number;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;

  constructor(start = Date.UTC(2026, 10, 23, 12)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** The time the next timer fires, if any. */
  get nextTimerAt(): number | undefined {
    const times = [...this.timers.values()].map((timer) => timer.at);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  /** Moves time forward, firing due timers in time order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, timer]) => timer.at <= target)
        .sort(([, a], [, b]) => a.at - b.at)[0];
      if (!due) break;
      const [id, timer] = due;
      this.timers.delete(id);
      this.current = timer.at;
      timer.callback();
    }
    this.current = target;
  }
}

export interface LogEntry {
  level: keyof AdapterLogger;
  obj: object;
  msg?: string;
}

/** A StreamContext that records everything the stream reports. */
export class RecordingContext implements StreamContext {
  readonly sourceId = 'src-test';
  readonly events: NormalizedEvent[] = [];
  readonly states: StreamStateChange[] = [];
  readonly logs: LogEntry[] = [];
  readonly random = () => 0.5;
  /** Dedup keys "stored" before this run, oldest first; `emit` adds to them. */
  readonly storedKeys: string[] = [];
  /** Replace to make `emit` slow or failing. */
  emitImpl: (events: NormalizedEvent[]) => Promise<void> = async () => {};
  readonly logger: AdapterLogger;

  constructor(readonly clock: Clock = systemClock) {
    const log =
      (level: keyof AdapterLogger) =>
      (obj: object, msg?: string): void => {
        this.logs.push({ level, obj, msg });
      };
    this.logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  }

  async emit(events: NormalizedEvent[]): Promise<void> {
    await this.emitImpl(events);
    this.events.push(...events);
    this.storedKeys.push(...events.flatMap((event) => (event.dedupKey ? [event.dedupKey] : [])));
  }

  async lastDedupKey(prefix: string): Promise<string | null> {
    return this.storedKeys.findLast((key) => key.startsWith(prefix)) ?? null;
  }

  setState(change: StreamStateChange): void {
    this.states.push(change);
  }

  get stateNames(): string[] {
    return this.states.map((change) => change.state);
  }

  get lastState(): StreamStateChange | undefined {
    return this.states.at(-1);
  }

  eventsOfType(type: string): NormalizedEvent[] {
    return this.events.filter((event) => event.type === type);
  }
}

export function expectDefined<T>(value: T | undefined | null, what = 'value'): T {
  if (value === undefined || value === null) throw new Error(`${what} is missing`);
  return value;
}
