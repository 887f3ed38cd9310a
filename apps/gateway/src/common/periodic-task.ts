/**
 * Background work that runs every `intervalMs` and on demand (tests pass a fake `now`), never twice at
 * once in this process; a failed run is reported and answers `fallback`, and the next run tries again.
 */
export class PeriodicTask<T> {
  private timer: NodeJS.Timeout | undefined;
  private firstRun: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;
  private stopped = false;

  constructor(
    /** `stopping` turns true once `stop` is called: long work checks it between steps and ends early. */
    private readonly work: (now: number, stopping: () => boolean) => Promise<T>,
    private readonly fallback: T,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Runs every `intervalMs`, and first after `firstRunMs` when given. */
  start(intervalMs: number, firstRunMs?: number): void {
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
    if (firstRunMs !== undefined) this.firstRun = setTimeout(() => this.tick(), firstRunMs).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.firstRun);
    await this.running;
  }

  /**
   * Runs as of `now` (when it starts, unless given), after the run in progress if there is one: that run
   * may be as of another time.
   */
  run(now?: number): Promise<T> {
    const run = (this.running ?? Promise.resolve())
      .then(() => this.work(now ?? Date.now(), () => this.stopped))
      .catch((error: unknown) => {
        this.onError(error);
        return this.fallback;
      });
    this.running = run;
    const settled = () => {
      if (this.running === run) this.running = undefined;
    };
    void run.then(settled, settled);
    return run;
  }

  /** A timer's run: skipped while one is in progress, so slow runs do not queue up. */
  private tick(): void {
    if (!this.running) void this.run();
  }
}
