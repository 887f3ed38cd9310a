import { applyDecorators } from '@nestjs/common';
import { IsISO8601, Matches } from 'class-validator';

/**
 * An ISO 8601 date-time with its offset (`Z` or `±hh:mm`), or a date alone (midnight UTC). A date-time
 * without its offset, `2026-12-07 12:00:00`, was read in the server's time zone, which the caller cannot
 * know.
 */
export const IsInstant = (): PropertyDecorator =>
  applyDecorators(
    IsISO8601({ strict: true }),
    Matches(/^\d{4}-\d{2}-\d{2}$|T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i, {
      message: '$property must be a date-time with its offset, e.g. 2026-12-07T12:00:00Z',
    }),
  );

/**
 * An `IsInstant` bound of a time range (`since`, `until`) at the millisecond, Herald's precision: a finer
 * one is rounded up to the first millisecond at or after it, so `time >= since` and `time < until` mean
 * what they say (`new Date` cut `.0005` down to `.000`, and `since` took in an event half a millisecond
 * before it).
 */
export function rangeBound(instant: string): Date {
  const date = new Date(instant);
  const finer = /T[\d:]+\.\d{3}(\d+)/.exec(instant)?.[1];
  return finer && /[1-9]/.test(finer) ? new Date(date.getTime() + 1) : date;
}
