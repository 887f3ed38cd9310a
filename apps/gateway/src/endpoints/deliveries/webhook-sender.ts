import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { HERALD_CONFIG, type HeraldConfig } from '../../config/herald-config.js';
import { SenderThread } from './sender-thread.js';
import type { TicketedMessage } from './sender-thread.protocol.js';
import type { SendResult } from './webhook-poster.js';

export const ATTEMPT_TIMEOUT_MS = 15_000;
/** Requests in flight to one endpoint from one instance. */
export const PER_ENDPOINT_CONCURRENCY = 16;

/**
 * The thread's entry is always the compiled one under dist/: a worker thread runs plain JavaScript,
 * and the test suite runs this file from src/ (through SWC), where no .js entry exists. Both src/ and
 * dist/ sit at the same depth under the package, so one relative path serves both; tests run after
 * the build (turbo.json).
 */
export const THREAD_SCRIPT = new URL(
  '../../../dist/endpoints/deliveries/webhook-sender.thread.js',
  import.meta.url,
);

/** Signs and POSTs webhook messages, on a thread of their own (see `SenderThread`). */
@Injectable()
export class WebhookSender implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly thread: SenderThread;
  /** Contract §7: 15 s per attempt. Tests shorten it on the instance. */
  timeoutMs = ATTEMPT_TIMEOUT_MS;

  constructor(
    @Inject(HERALD_CONFIG) config: HeraldConfig,
    @InjectPinoLogger(WebhookSender.name) logger: PinoLogger,
  ) {
    this.thread = new SenderThread(
      THREAD_SCRIPT,
      {
        allowPrivateTargets: config.allowPrivateTargets,
        userAgent: `Herald/${config.version}`,
        maxTimeoutMs: ATTEMPT_TIMEOUT_MS,
        perEndpointConcurrency: PER_ENDPOINT_CONCURRENCY,
      },
      (reason) =>
        logger.error({ reason }, 'the webhook sender thread died; its attempts failed and will be retried'),
    );
  }

  /** Started ahead, so the first webhook does not wait for the thread to boot. */
  onApplicationBootstrap(): void {
    this.thread.start();
  }

  /**
   * Sends once one of the endpoint's PER_ENDPOINT_CONCURRENCY request slots is free; `null` when the
   * message was dropped unsent (see `dropWaiting`).
   */
  send(message: Omit<TicketedMessage, 'ticket' | 'timeoutMs'>): Promise<SendResult | null> {
    return this.thread.post({ ...message, timeoutMs: this.timeoutMs });
  }

  /** Messages still waiting for a request slot are answered `null`, unsent (shutdown). */
  dropWaiting(): void {
    this.thread.dropWaiting();
  }

  /** Aborts every attempt in flight (shutdown); they end with `status: null`. */
  abortAll(): void {
    this.thread.abortAll();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.thread.stop();
  }
}
