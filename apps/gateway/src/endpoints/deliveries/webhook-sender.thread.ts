/**
 * The sender thread's entry (see `SenderThread`): posts the messages it is given, at most
 * `perEndpointConcurrency` at a time per endpoint, and answers with their results, both in batches of
 * whatever one turn of its event loop saw.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EndpointSlots } from './endpoint-slots.js';
import type { FromSenderThread, SenderThreadOptions, ToSenderThread } from './sender-thread.protocol.js';
import { WebhookPoster } from './webhook-poster.js';

const port = parentPort!;
const options = workerData as SenderThreadOptions;
const poster = new WebhookPoster(options);
const slots = new EndpointSlots(options.perEndpointConcurrency);
let results: FromSenderThread['results'] = [];
let flush: NodeJS.Immediate | undefined;

function answer(): void {
  flush = undefined;
  port.postMessage({ kind: 'results', results } satisfies FromSenderThread);
  results = [];
}

port.on('message', (message: ToSenderThread) => {
  if (message.kind === 'abort-all') return poster.abortAll();
  if (message.kind === 'drop-waiting') return slots.dropWaiting();
  for (const { ticket, endpointId, ...webhook } of message.messages) {
    void slots
      .run(endpointId, () => poster.post(webhook))
      .then((result) => {
        results.push({ ticket, result });
        flush ??= setImmediate(answer);
      });
  }
});
