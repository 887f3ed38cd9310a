export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
}

/**
 * Exponential backoff with "equal jitter": each delay is uniformly drawn from [d/2, d], where d grows
 * by `factor` per attempt up to `maxMs`. Spreads a fleet's reconnects without ever retrying at once.
 */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
  }

  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
