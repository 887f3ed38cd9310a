import 'reflect-metadata';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { plainToInstance } from 'class-transformer';
import { PublishEventDto } from '../src/events/event.dto.js';

/**
 * patches/class-transformer@0.5.1.patch: every REST body goes through class-transformer, which deduped
 * each object's keys with one `indexOf` per key, a scan of all of them: a 1 MiB body of 75,000 keys held
 * the event loop for 6–11 s. Counted rather than timed, so a slow machine cannot fail it.
 */
describe('class-transformer, as patched', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('does not scan the keys of an object once per key', () => {
    const data = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
    const indexOf = jest.spyOn(Array.prototype, 'indexOf');
    const dto = plainToInstance(PublishEventDto, { type: 'wide.data', data });
    expect(indexOf.mock.calls.length).toBeLessThan(1_000);
    expect(dto.data).toEqual(data);
  });
});
