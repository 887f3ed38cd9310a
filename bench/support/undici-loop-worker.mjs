// The bare delivery baseline on a worker thread: `count` POSTs through one undici Pool of `concurrency`
// connections (Herald's per-endpoint limit), each with a signed-webhook-sized JSON body, timed after
// `warmup` untimed ones (Herald's gateway is warm from the live phase by the time its drain is timed).
// Also reports the CPU the timed requests cost, sender and receiver together.
import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'undici';

const { url, count, warmup, concurrency, body } = workerData;
const target = new URL(url);
const pool = new Pool(target.origin, { connections: concurrency });
let failed = 0;

async function post(n) {
  const response = await pool.request({
    path: target.pathname,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': `baseline-${n}` },
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
