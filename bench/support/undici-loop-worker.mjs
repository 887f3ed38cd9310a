// The bare delivery baseline on a worker thread: `count` POSTs through one undici Pool of `concurrency`
// connections (Herald's per-endpoint limit), each with a signed-webhook-sized JSON body.
import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'undici';

const { url, count, concurrency, body } = workerData;
const target = new URL(url);
const pool = new Pool(target.origin, { connections: concurrency });
let next = 0;
let failed = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const n = next++;
      const response = await pool.request({
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': `baseline-${n}` },
        body,
      });
      await response.body.dump();
      if (response.statusCode >= 300) failed++;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
await pool.close();
parentPort.postMessage({ rate: count / seconds, failed });
