import { Worker } from 'node:worker_threads';
import type {
  FromSenderThread,
  SenderThreadOptions,
  TicketedMessage,
  ToSenderThread,
} from './sender-thread.protocol.js';
import type { SendResult } from './webhook-poster.js';

interface Posted {
  resolve: (result: SendResult | null) => void;
  postedAt: Date;
}

/**
 * Webhooks are posted from a worker thread of their own (`webhook-sender.thread.ts`), which also holds
 * the per-endpoint request slots, so a finished request starts the endpoint's next one at once. On the
 * main thread every answer, and so every free slot, waited for whatever that thread was doing: a
 * claim's rows, a batch of outcomes, a 10–14 ms scavenge of its large heap. A drain's attempts took
 * 1.6 ms at the median and 4 ms at p90 there, against 0.6 ms for the same requests from a thread that
 * does nothing else, and with 16 slots per endpoint that wait set the drain rate (docs/performance.md,
 * twelfth session). Messages cross in batches, one per turn of either event loop, so a wake-up is
 * shared by many.
 * A thread that dies ends its attempts with an error (they are retried like any failed attempt) and
 * the next message starts a new one.
 */
export class SenderThread {
  private worker: Worker | undefined;
  private outbox: Array<TicketedMessage & Posted> = [];
  private flush: NodeJS.Immediate | undefined;
  /** Messages handed to the current thread, by ticket. */
  private readonly posted = new Map<number, Posted>();
  private nextTicket = 0;

  /** `script` is the thread's compiled entry (see `WebhookSender`); `crashed` hears of a thread that died. */
  constructor(
    private readonly script: URL,
    private readonly options: SenderThreadOptions,
    private readonly crashed: (reason: string) => void = () => {},
  ) {}

  /** Resolves with the attempt's result, or `null` if it was dropped unsent (see `dropWaiting`). */
  post(message: Omit<TicketedMessage, 'ticket'>): Promise<SendResult | null> {
    return new Promise((resolve) => {
      this.outbox.push({ ...message, ticket: this.nextTicket++, resolve, postedAt: new Date() });
      this.flush ??= setImmediate(() => this.send());
    });
  }

  /** Ends every attempt in flight with `status: null`, including those not yet handed over. */
  abortAll(): void {
    this.send();
    this.worker?.postMessage({ kind: 'abort-all' } satisfies ToSenderThread);
  }

  /** Answers `null` to every message still waiting for a request slot, including those not yet handed over. */
  dropWaiting(): void {
    this.send();
    this.worker?.postMessage({ kind: 'drop-waiting' } satisfies ToSenderThread);
  }

  /** Stops the thread; attempts still in it end with an error, messages not yet handed over with `null`. */
  async stop(): Promise<void> {
    clearImmediate(this.flush);
    this.flush = undefined;
    this.outbox.splice(0).forEach(({ resolve }) => resolve(null));
    const worker = this.worker;
    if (!worker) return;
    this.lost('the gateway is shutting down');
    await worker.terminate();
  }

  private send(): void {
    clearImmediate(this.flush);
    this.flush = undefined;
    if (this.outbox.length === 0) return;
    const worker = this.start();
    const messages: TicketedMessage[] = this.outbox.map(({ resolve, postedAt, ...message }) => {
      this.posted.set(message.ticket, { resolve, postedAt });
      return message;
    });
    this.outbox = [];
    worker.postMessage({ kind: 'post', messages } satisfies ToSenderThread);
  }

  /** The thread, started if none runs. */
  start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.script, { workerData: this.options });
    // The gateway's server keeps the process alive; the thread alone must not.
    worker.unref();
    worker.on('message', ({ results }: FromSenderThread) => {
      for (const { ticket, result } of results) {
        const posted = this.posted.get(ticket);
        this.posted.delete(ticket);
        posted?.resolve(result);
      }
    });
    const died = (reason: string) => {
      if (this.worker !== worker) return;
      this.crashed(reason);
      this.lost(reason);
    };
    worker.on('error', (error) => died(error.message));
    worker.on('exit', (code) => died(`it exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  /** Ends the attempts the thread held; the next message starts a new one. */
  private lost(reason: string): void {
    this.worker = undefined;
    const now = Date.now();
    for (const { resolve, postedAt } of this.posted.values()) {
      resolve({
        attemptedAt: postedAt,
        status: null,
        body: null,
        retryAfter: undefined,
        error: `the sender thread stopped: ${reason}`,
        durationMs: now - postedAt.getTime(),
      });
    }
    this.posted.clear();
  }
}
