export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /**
   * How long a connection must last (see `connected`) for the next delay to start over; default 30 s.
   * One that drops right after its handshake, a flapping server, keeps the delays growing instead of
   * reconnecting (and reporting a connect and a disconnect) about once a second.
   */
  stableMs?: number;
}

/**
 * Exponential backoff with "equal jitter": each delay is uniformly drawn from [d/2, d], where d grows
 * by `factor` per attempt up to `maxMs`. Spreads a fleet's reconnects without ever retrying at once.
 */
export class Backoff {
  private attempt = 0;
  private connectedAt: number | undefined;
  private readonly initialMs: number;
  private readonly stableMs: number;
  private readonly maxMs: number;
  private readonly factor: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.stableMs = options.stableMs ?? 30_000;
  }

  /** A connection is up as of `now` (ms); the first `next` after it starts over if it lasted. */
  connected(now: number): void {
    this.connectedAt = now;
  }

  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt; `now` (ms) tells whether the connection before it lasted. */
  next(now?: number): number {
    if (this.connectedAt !== undefined && now !== undefined && now - this.connectedAt >= this.stableMs) {
      this.attempt = 0;
    }
    this.connectedAt = undefined;
    const ceiling = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
