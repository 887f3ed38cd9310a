import { describe, expect, it } from '@jest/globals';
import { AttemptDeadlines, AttemptTimeoutError } from '../src/endpoints/deliveries/attempt-deadlines.js';

describe('attempt deadlines', () => {
  it('aborts each attempt at its own limit, whatever was started before it', async () => {
    const deadlines = new AttemptDeadlines();
    const long = deadlines.start(10_000);
    const short = deadlines.start(50);
    const finished = deadlines.start(50);
    deadlines.finish(finished);
    const started = performance.now();
    await new Promise((resolve) => short.signal.addEventListener('abort', resolve));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(short.signal.reason).toBeInstanceOf(AttemptTimeoutError);
    expect(long.signal.aborted).toBe(false);
    expect(finished.signal.aborted).toBe(false);
    deadlines.abortAll(new Error('shutdown'));
    expect(long.signal.reason).toEqual(new Error('shutdown'));
  });
});
