import { percentile, sleep } from './figures.mjs';

/**
 * Calls `send(i, measured)` on a fixed schedule of `rate` per second, whatever the answers take (an
 * open loop, so a slow server meets the offered load rather than slowing the generator): `warmup`
 * seconds unmeasured, then `seconds` measured, in one unbroken schedule. `onMeasured` runs once, just
 * before the first measured call. Resolves when every promise `send` returned has settled, with the
 * rate achieved over the measured part and the generator's own lag behind the schedule (p99, ms).
 */
export async function openLoop({ rate, warmup, seconds, send, onMeasured = () => {} }) {
  const first = rate * warmup; // index of the first measured call
  const total = first + rate * seconds;
  const lags = [];
  const inflight = [];
  const started = performance.now();
  let measuredFrom = started;
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const measured = i >= first;
    if (i === first) {
      onMeasured();
      measuredFrom = performance.now();
    }
    if (measured) lags.push(Math.max(0, performance.now() - due));
    inflight.push(send(i, measured));
  }
  await Promise.allSettled(inflight);
  return {
    achieved: (total - first) / ((performance.now() - measuredFrom) / 1000),
    lagP99: percentile(lags, 99),
  };
}
