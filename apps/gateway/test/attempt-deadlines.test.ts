import { describe, expect, it } from '@jest/globals';
import {
  type Abortable,
  AttemptDeadlines,
  AttemptTimeoutError,
} from '../src/endpoints/deliveries/attempt-deadlines.js';

class Attempt implements Abortable {
  reason: Error | undefined;
  private readonly signal = new AbortController();
  readonly aborted = new Promise((resolve) => this.signal.signal.addEventListener('abort', resolve));

  abort(reason: Error): void {
    this.reason = reason;
    this.signal.abort();
  }
}

describe('attempt deadlines', () => {
  it('aborts each attempt at its own limit, whatever was started before it', async () => {
    const deadlines = new AttemptDeadlines();
    const [long, short, finished] = [new Attempt(), new Attempt(), new Attempt()];
    deadlines.start(long, 10_000);
    deadlines.start(short, 50);
    deadlines.start(finished, 50);
    deadlines.finish(finished);
    const started = performance.now();
    await short.aborted;
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(short.reason).toBeInstanceOf(AttemptTimeoutError);
    expect(long.reason).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(finished.reason).toBeUndefined();
    deadlines.abortAll(new Error('shutdown'));
    expect(long.reason).toEqual(new Error('shutdown'));
  });
});
