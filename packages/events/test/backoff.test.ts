import { describe, expect, it } from '@jest/globals';
import { Backoff } from '../src/index.js';

describe(Backoff.name, () => {
  it('grows exponentially within [d/2, d] and caps at maxMs', () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1_000 }, () => 0);
    const high = new Backoff({ initialMs: 100, maxMs: 1_000 }, () => 0.999999);
    expect([1, 2, 3, 4, 5].map(() => low.next())).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map(() => high.next())).toEqual([100, 200, 400, 800, 1_000]);
  });

  it('starts over only after a connection that lasted stableMs', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, stableMs: 30_000 }, () => 0);
    expect(backoff.next(0)).toBe(50);
    backoff.connected(1_000);
    // Dropped right after its handshake: a flapping server.
    expect(backoff.next(1_500)).toBe(100);
    backoff.connected(2_000);
    expect(backoff.next(31_999)).toBe(200);
    backoff.connected(40_000);
    expect(backoff.next(70_000)).toBe(50);
    // A failed attempt, with no connection since: still growing.
    expect(backoff.next(200_000)).toBe(100);
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
