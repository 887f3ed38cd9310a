/**
 * Background work that runs every `intervalMs` and on demand (tests pass a fake `now`), never twice at
 * once in this process; a failed run is reported and answers `fallback`, and the next run tries again.
 */
export class PeriodicTask<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;

  constructor(
    private readonly work: (now: number) => Promise<T>,
    private readonly fallback: T,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.run(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  run(now = Date.now()): Promise<T> {
    this.running ??= this.work(now)
      .catch((error: unknown) => {
        this.onError(error);
        return this.fallback;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }
}
