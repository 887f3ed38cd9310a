/** Each scheduled delay is stretched or shrunk by up to this share, so a fleet's retries spread out. */
export const RETRY_JITTER = 0.2;

/**
 * Seconds until the next attempt after `attemptsMade` attempts failed, or undefined when the schedule
 * is spent (the delivery fails). `schedule[n]` is the delay before attempt n+1. A receiver's
 * Retry-After is honoured: never retried sooner than it asks, and never sooner than the jittered
 * schedule (a short Retry-After must not line a fleet's retries up again); it is capped only at the
 * schedule's longest delay, so it cannot park a delivery indefinitely. (It used to be capped at twice
 * the scheduled delay, which retried a receiver that asked for an hour after 10 s.)
 */
export function nextRetryDelay(
  schedule: readonly number[],
  attemptsMade: number,
  retryAfterSeconds: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  const scheduled = schedule[attemptsMade];
  if (scheduled === undefined) return undefined;
  const jittered = scheduled * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random());
  if (retryAfterSeconds === undefined) return jittered;
  return Math.min(Math.max(retryAfterSeconds, jittered), Math.max(...schedule));
}

/** `Retry-After` as seconds from `now`: delta-seconds or an HTTP date; undefined when absent or bad. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now.getTime()) / 1000);
}
