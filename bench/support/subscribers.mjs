import { Worker } from 'node:worker_threads';

/** `count` socket.io subscribers on a worker thread; resolves once all are connected and subscribed. */
export async function startSubscribers({ url, token, count, types }) {
  const worker = new Worker(new URL('./subscriber-worker.mjs', import.meta.url), {
    workerData: { url, token, count, types },
  });
  const next = () =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  await next();
  return {
    /** Row id → receive times. */
    async receipts() {
      const reply = next();
      worker.postMessage('report');
      return new Map((await reply).receipts);
    },
    async close() {
      worker.postMessage('close');
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}
