/** How often deadlines are checked: an attempt is aborted at most this much after its deadline. */
const TICK_MS = 100;

/**
 * Per-attempt time limits from one coarse timer. A timer and a composite signal per attempt
 * (`AbortSignal.any([cancel, AbortSignal.timeout(ms)])`) cost about a third of the sender's throughput
 * on loopback (docs/performance.md); here an attempt costs one AbortController and a map entry.
 */
export class AttemptDeadlines {
  /** Attempts in flight (at most the worker's concurrency), so a full scan per tick stays cheap. */
  private readonly running = new Map<AbortController, number>();
  private timer: NodeJS.Timeout | undefined;

  /** A controller whose signal aborts after `limitMs` (or on `abortAll`); hand it back to `finish`. */
  start(limitMs: number): AbortController {
    const controller = new AbortController();
    this.running.set(controller, performance.now() + limitMs);
    this.timer ??= setInterval(() => this.expire(), TICK_MS).unref();
    return controller;
  }

  finish(controller: AbortController): void {
    this.running.delete(controller);
    if (this.running.size === 0) this.stopTimer();
  }

  /** Aborts every running attempt (shutdown). */
  abortAll(reason: Error): void {
    for (const controller of this.running.keys()) controller.abort(reason);
    this.running.clear();
    this.stopTimer();
  }

  private expire(): void {
    const now = performance.now();
    for (const [controller, deadline] of this.running) {
      if (deadline > now) continue;
      this.running.delete(controller);
      controller.abort(new AttemptTimeoutError());
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
