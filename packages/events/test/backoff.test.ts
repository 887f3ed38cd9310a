import { describe, expect, it } from '@jest/globals';
import { Backoff } from '../src/index.js';

describe(Backoff.name, () => {
  it('grows exponentially within [d/2, d] and caps at maxMs', () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1_000 }, () => 0);
    const high = new Backoff({ initialMs: 100, maxMs: 1_000 }, () => 0.999999);
    expect([1, 2, 3, 4, 5].map(() => low.next())).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map(() => high.next())).toEqual([100, 200, 400, 800, 1_000]);
  });

  it('starts over after reset', () => {
    const backoff = new Backoff({ initialMs: 100 }, () => 0);
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(50);
  });
});
