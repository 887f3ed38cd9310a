import type { Clock } from '@herald/events';

/** What `admit` answers for a line that may be written. */
export interface AdmittedLine {
  /** Lines of the same key dropped since the last one written, for the reader to see the flood. */
  suppressed: number;
}

/**
 * At most one log line per key per window, so a caller retrying fast (a provider with the wrong secret)
 * cannot flood the log. Dropped lines are only counted; the next line written for the key reports them.
 */
export class LogThrottle {
  private readonly keys = new Map<string, { writtenAt: number; suppressed: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly clock: Pick<Clock, 'now'>,
    /** Bounds the memory over a long run: keys of deleted sources are never used again. */
    private readonly maxKeys = 10_000,
  ) {}

  /** Null: drop this line. Otherwise write it, with the count of lines dropped before it. */
  admit(key: string): AdmittedLine | null {
    const now = this.clock.now();
    const entry = this.keys.get(key);
    if (entry && now - entry.writtenAt < this.windowMs) {
      entry.suppressed++;
      return null;
    }
    if (!entry && this.keys.size >= this.maxKeys) this.forgetQuietKeys(now);
    this.keys.set(key, { writtenAt: now, suppressed: 0 });
    return { suppressed: entry?.suppressed ?? 0 };
  }

  /** Keys whose window is over would be written anyway; losing their counts loses little. */
  private forgetQuietKeys(now: number): void {
    for (const [key, entry] of this.keys) {
      if (now - entry.writtenAt >= this.windowMs) this.keys.delete(key);
    }
    // Every key is in its window: start over rather than grow.
    if (this.keys.size >= this.maxKeys) this.keys.clear();
  }
}
