// Socket subscribers in a worker thread, so receiving does not delay the main thread's open-loop sender.
// workerData: { url, token, count, types }. Messages in: 'report', 'close'. Out: {ready}, {receipts}.
import { parentPort, workerData } from 'node:worker_threads';
import { io } from 'socket.io-client';
import { now } from './figures.mjs';
import { rowIdOf } from './seatable.mjs';

const { url, token, count, types } = workerData;
const receipts = new Map(); // row id → receive times (ms, shared clock)
const sockets = [];

async function connectOne() {
  const socket = io(url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const ack = await socket.emitWithAck('subscribe', { types });
  if (!ack.ok) throw new Error(ack.error?.message ?? 'subscribe refused');
  socket.on('event', ({ event }) => {
    const t = now();
    const key = rowIdOf(event);
    const list = receipts.get(key);
    if (list) list.push(t);
    else receipts.set(key, [t]);
  });
  sockets.push(socket);
}

let next = 0;
await Promise.all(
  Array.from({ length: Math.min(64, count) }, async () => {
    while (next < count) {
      next++;
      await connectOne();
    }
  }),
);
parentPort.postMessage({ ready: sockets.length });
parentPort.on('message', (message) => {
  if (message === 'report') parentPort.postMessage({ receipts: [...receipts] });
  if (message === 'close') {
    for (const socket of sockets) socket.close();
    parentPort.close();
  }
});
