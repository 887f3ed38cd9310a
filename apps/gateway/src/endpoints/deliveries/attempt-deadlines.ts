/** How often deadlines are checked: an attempt is aborted at most this much after its deadline. */
const TICK_MS = 100;

/** Something running that can be stopped early with a reason. */
export interface Abortable {
  abort(reason: Error): void;
}

/**
 * Per-attempt time limits from one coarse timer. A timer and a composite signal per attempt
 * (`AbortSignal.any([cancel, AbortSignal.timeout(ms)])`) cost about a third of the sender's throughput
 * on loopback (docs/performance.md); here an attempt costs a map entry.
 */
export class AttemptDeadlines {
  /** Attempts in flight (at most the worker's concurrency), so a full scan per tick stays cheap. */
  private readonly running = new Map<Abortable, number>();
  private timer: NodeJS.Timeout | undefined;

  /** Aborts `attempt` with an `AttemptTimeoutError` after `limitMs`, unless it is `finish`ed first. */
  start(attempt: Abortable, limitMs: number): void {
    this.running.set(attempt, performance.now() + limitMs);
    this.timer ??= setInterval(() => this.expire(), TICK_MS).unref();
  }

  finish(attempt: Abortable): void {
    this.running.delete(attempt);
    if (this.running.size === 0) this.stopTimer();
  }

  /** Aborts every running attempt (shutdown). */
  abortAll(reason: Error): void {
    const running = [...this.running.keys()];
    this.running.clear();
    this.stopTimer();
    for (const attempt of running) attempt.abort(reason);
  }

  private expire(): void {
    const now = performance.now();
    for (const [attempt, deadline] of this.running) {
      if (deadline > now) continue;
      this.running.delete(attempt);
      attempt.abort(new AttemptTimeoutError());
    }
    if (this.running.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

export class AttemptTimeoutError extends Error {
  constructor() {
    super('attempt timed out');
    this.name = 'AttemptTimeoutError';
  }
}
