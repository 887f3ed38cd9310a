import { beforeEach, describe, expect, it } from '@jest/globals';
import { LogThrottle } from '../src/common/log-throttle.js';

describe(LogThrottle.name, () => {
  let now: number;
  let sut: LogThrottle;

  beforeEach(() => {
    now = 1_000_000;
    sut = new LogThrottle(60_000, { now: () => now }, 3);
  });

  it('writes the first line of a key, drops the rest of its window, and reports them in the next line', () => {
    expect(sut.admit('a:invalid_signature')).toEqual({ suppressed: 0 });
    for (let i = 0; i < 1000; i++) expect(sut.admit('a:invalid_signature')).toBeNull();
    now += 59_999;
    expect(sut.admit('a:invalid_signature')).toBeNull();
    now += 1;
    expect(sut.admit('a:invalid_signature')).toEqual({ suppressed: 1001 });
    // The count starts over with each line written.
    expect(sut.admit('a:invalid_signature')).toBeNull();
    now += 60_000;
    expect(sut.admit('a:invalid_signature')).toEqual({ suppressed: 1 });
  });

  it('keeps a window per key', () => {
    expect(sut.admit('a:invalid_signature')).toEqual({ suppressed: 0 });
    expect(sut.admit('a:payload_too_large')).toEqual({ suppressed: 0 });
    expect(sut.admit('b:invalid_signature')).toEqual({ suppressed: 0 });
    expect(sut.admit('a:payload_too_large')).toBeNull();
  });

  it('holds at most maxKeys keys, forgetting those whose window is over first', () => {
    sut.admit('a');
    now += 30_000;
    sut.admit('b');
    sut.admit('c');
    now += 30_000;
    // Full: `a` is out of its window and makes room; `b` and `c` keep theirs.
    expect(sut.admit('d')).toEqual({ suppressed: 0 });
    expect(sut.admit('b')).toBeNull();
    expect(sut.admit('c')).toBeNull();
    // Full with every key in its window: starting over is the only bound left.
    expect(sut.admit('e')).toEqual({ suppressed: 0 });
    expect(sut.admit('b')).toEqual({ suppressed: 0 });
  });
});
