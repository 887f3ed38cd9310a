import { describe, expect, it } from '@jest/globals';
import { nextRetryDelay, parseRetryAfter } from '../src/endpoints/deliveries/retry-policy.js';
import { isPrivateAddress } from '../src/endpoints/targets/address-policy.js';

describe(nextRetryDelay.name, () => {
  const schedule = [0, 5, 300];

  it('uses schedule[n] as the delay after n attempts, jittered by ±20 %, then gives up', () => {
    expect(nextRetryDelay(schedule, 1, undefined, () => 0)).toBeCloseTo(4);
    expect(nextRetryDelay(schedule, 1, undefined, () => 0.5)).toBeCloseTo(5);
    expect(nextRetryDelay(schedule, 2, undefined, () => 1)).toBeCloseTo(360);
    expect(nextRetryDelay(schedule, 3, undefined)).toBeUndefined();
  });

  it('honours Retry-After, never sooner than scheduled and at most the longest scheduled delay', () => {
    expect(nextRetryDelay(schedule, 1, 7, () => 1)).toBe(7);
    expect(nextRetryDelay(schedule, 1, 60)).toBe(60);
    expect(nextRetryDelay(schedule, 1, 3_600)).toBe(300);
    expect(nextRetryDelay(schedule, 2, 3_600)).toBe(300);
    expect(nextRetryDelay(schedule, 3, 60)).toBeUndefined();
  });

  it('keeps the jitter when Retry-After asks for less than the schedule', () => {
    expect(nextRetryDelay(schedule, 1, 1, () => 0)).toBeCloseTo(4);
    expect(nextRetryDelay(schedule, 1, 1, () => 1)).toBeCloseTo(6);
    expect(nextRetryDelay(schedule, 2, 1, () => 1)).toBe(300);
  });
});

describe(parseRetryAfter.name, () => {
  const now = new Date('2026-11-23T10:00:00Z');

  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe(isPrivateAddress.name, () => {
  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '[::1]',
    'fe80::1',
    'fd00::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:a00:1',
    '64:ff9b::a00:1',
    '::ffff:0:7f00:1',
    '2002:7f00:1::',
    '64:ff9b:1::a00:1',
    '2001:0:7f00:1::',
    'not-an-ip',
  ])('refuses %s', (address) => expect(isPrivateAddress(address)).toBe(true));

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8', '172.32.0.1'])(
    'allows %s',
    (address) => expect(isPrivateAddress(address)).toBe(false),
  );
});
