/**
 * Request slots per endpoint: at most `limit` attempts run per endpoint, the rest wait in order and
 * start the moment a slot frees up. Lives on the sender thread, so a finished request hands its slot
 * on within the same turn of that thread's event loop.
 */
export class EndpointSlots {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, Array<(go: boolean) => void>>();

  constructor(private readonly limit: number) {}

  /** Runs `task` in a slot of `endpointId`; `null` when it was dropped before it could start. */
  async run<T>(endpointId: string, task: () => Promise<T>): Promise<T | null> {
    if (!(await this.acquire(endpointId))) return null;
    try {
      return await task();
    } finally {
      this.release(endpointId);
    }
  }

  /** Drops every task still waiting for a slot (shutdown); running ones go on. */
  dropWaiting(): void {
    const queues = [...this.waiting.values()];
    this.waiting.clear();
    for (const queue of queues) queue.forEach((go) => go(false));
  }

  private acquire(endpointId: string): Promise<boolean> | boolean {
    const busy = this.running.get(endpointId) ?? 0;
    if (busy < this.limit) {
      this.running.set(endpointId, busy + 1);
      return true;
    }
    return new Promise((resolve) => {
      const queue = this.waiting.get(endpointId) ?? [];
      queue.push(resolve);
      this.waiting.set(endpointId, queue);
    });
  }

  /** Hands the slot to the next waiting task of the endpoint, or frees it. */
  private release(endpointId: string): void {
    const queue = this.waiting.get(endpointId);
    const next = queue?.shift();
    if (queue?.length === 0) this.waiting.delete(endpointId);
    if (next) return next(true);
    const busy = (this.running.get(endpointId) ?? 1) - 1;
    if (busy > 0) this.running.set(endpointId, busy);
    else this.running.delete(endpointId);
  }
}
