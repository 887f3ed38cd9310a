/**
 * Runs at most `limit` tasks at once. The others wait in a line per key (a tenant, say), and a freed
 * place goes to the lines in turn, so a key with thousands of tasks waiting delays another key's one by
 * a few tasks, not by all of them.
 */
export class ConcurrencyLimit {
  private running = 0;
  /** Waiting lines by key, in the order their turns come (a Map keeps insertion order). */
  private readonly lines = new Map<string, Array<() => void>>();

  constructor(private readonly limit: number) {}

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.wait(key, resolve));
    try {
      return await task();
    } finally {
      this.handOn(key);
    }
  }

  private wait(key: string, start: () => void): void {
    const line = this.lines.get(key);
    if (line) line.push(start);
    else this.lines.set(key, [start]);
  }

  /**
   * A finished task's place goes to the first line of another key than its own (its own only when no
   * other waits), and that line moves to the back; with no line waiting, the place is free.
   */
  private handOn(finished: string): void {
    let chosen: [string, Array<() => void>] | undefined;
    for (const entry of this.lines) {
      chosen = entry;
      if (entry[0] !== finished) break;
    }
    if (!chosen) {
      this.running--;
      return;
    }
    const [key, line] = chosen;
    const start = line.shift()!;
    this.lines.delete(key);
    if (line.length > 0) this.lines.set(key, line);
    start();
  }
}
