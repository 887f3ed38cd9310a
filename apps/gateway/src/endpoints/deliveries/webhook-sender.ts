import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { signedHeaders } from '@herald/events';
import { Agent, request } from 'undici';
import { HERALD_CONFIG, type HeraldConfig } from '../../config/herald-config.js';
import { guardedConnector } from '../targets/guarded-connector.js';
import { AttemptDeadlines, AttemptTimeoutError } from './attempt-deadlines.js';

export const ATTEMPT_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** What an attempt keeps of the receiver's answer. */
export const RESPONSE_EXCERPT_BYTES = 2_048;
/** Bodies up to this size are drained so the connection can be reused; bigger ones close it. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

export interface WebhookMessage {
  url: string;
  /** Newest first. */
  secrets: string[];
  /** The `webhook-id`: the event id, the same on every attempt. */
  id: string;
  body: string;
}

export interface SendResult {
  status: number | null;
  body: string | null;
  retryAfter: string | undefined;
  error: string | null;
  durationMs: number;
}

/** Error text an operator can act on, from undici's error chains. */
function describeError(error: unknown): string {
  const messages: string[] = [];
  for (let e = error as { message?: unknown; code?: unknown; cause?: unknown } | undefined; e;) {
    const text = [e.code, e.message].filter((part) => typeof part === 'string' && part).join(': ');
    if (text && !messages.includes(text)) messages.push(text);
    e = e.cause as typeof e;
  }
  return messages.join(' ← ') || String(error);
}

/**
 * POSTs signed webhook messages over keep-alive connections (one undici Agent for the process). Never
 * follows redirects: a 3xx is an answer, and a failure.
 */
@Injectable()
export class WebhookSender implements OnApplicationShutdown {
  private readonly agent: Agent;
  private readonly userAgent: string;
  private readonly deadlines = new AttemptDeadlines();
  /** Contract §7: 15 s per attempt. Tests shorten it on the instance. */
  timeoutMs = ATTEMPT_TIMEOUT_MS;

  constructor(@Inject(HERALD_CONFIG) config: HeraldConfig) {
    this.userAgent = `Herald/${config.version}`;
    this.agent = new Agent({
      connect: guardedConnector(config.allowPrivateTargets, { timeout: CONNECT_TIMEOUT_MS, allowH2: false }),
      keepAliveTimeout: 30_000,
      headersTimeout: ATTEMPT_TIMEOUT_MS,
      bodyTimeout: ATTEMPT_TIMEOUT_MS,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.close();
  }

  /** Aborts every attempt in flight (shutdown); they end with `status: null`. */
  abortAll(): void {
    this.deadlines.abortAll(new Error('cancelled by shutdown'));
  }

  async send(message: WebhookMessage): Promise<SendResult> {
    const started = performance.now();
    const timestamp = Math.floor(Date.now() / 1000);
    const attempt = this.deadlines.start(this.timeoutMs);
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const response = await request(message.url, {
        dispatcher: this.agent,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.userAgent,
          ...(await signedHeaders(message.secrets, message.id, timestamp, message.body)),
        },
        body: message.body,
        signal: attempt.signal,
      });
      const body = await readExcerpt(response.body);
      const retryAfter = response.headers['retry-after'];
      return {
        status: response.statusCode,
        body,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        error: null,
        durationMs: elapsed(),
      };
    } catch (error) {
      const text =
        attempt.signal.reason instanceof AttemptTimeoutError
          ? `timed out after ${this.timeoutMs / 1000} s`
          : describeError(error);
      return { status: null, body: null, retryAfter: undefined, error: text, durationMs: elapsed() };
    } finally {
      this.deadlines.finish(attempt);
    }
  }
}

async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (kept < RESPONSE_EXCERPT_BYTES) {
      chunks.push(chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept));
      kept += Math.min(chunk.length, RESPONSE_EXCERPT_BYTES - kept);
    }
    if (total > DRAIN_LIMIT_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
