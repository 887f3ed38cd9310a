// The bare delivery baseline on a worker thread: `count` POSTs through one undici Pool of `concurrency`
// connections (Herald's per-endpoint limit), each the request Herald sends (its body, and the same headers
// with a fixed signature: signing is Herald's work, not the transport's), timed after `warmup` untimed
// ones (Herald's gateway is warm from the live phase by the time its drain is timed).
// Also reports the CPU the timed requests cost, sender and receiver together.
import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'undici';

const { url, count, warmup, concurrency, body } = workerData;
const target = new URL(url);
const pool = new Pool(target.origin, { connections: concurrency });
// Shaped like Herald's Standard Webhooks headers: `v1,` and a base64 HMAC-SHA256.
const TIMESTAMP = String(Math.floor(Date.now() / 1000));
const SIGNATURE = `v1,${Buffer.alloc(32, 7).toString('base64')}`;
let failed = 0;

async function post(n) {
  const response = await pool.request({
    path: target.pathname,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'Herald/0.1.0',
      'webhook-id': `baseline-${n}`,
      'webhook-timestamp': TIMESTAMP,
      'webhook-signature': SIGNATURE,
    },
    body,
  });
  await response.body.dump();
  if (response.statusCode >= 300) failed++;
}

/** `total` POSTs, `concurrency` at a time; ids from `first` on. */
async function loop(first, total) {
  let next = first;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < first + total) await post(next++);
    }),
  );
}

await loop(0, warmup);
const started = performance.now();
// Process-wide: this thread's loop and the receiver on the parent's thread.
const cpuBefore = process.cpuUsage();
await loop(warmup, count);
const cpu = process.cpuUsage(cpuBefore);
const seconds = (performance.now() - started) / 1000;
await pool.close();
parentPort.postMessage({ rate: count / seconds, cpuPerRequest: (cpu.user + cpu.system) / count, failed });
