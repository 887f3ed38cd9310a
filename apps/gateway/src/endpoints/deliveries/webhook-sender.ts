import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { signedHeaders } from '@herald/events';
import { Agent } from 'undici';
import { storableText } from '../../common/storable.js';
import { HERALD_CONFIG, type HeraldConfig } from '../../config/herald-config.js';
import { guardedConnector } from '../targets/guarded-connector.js';
import { AttemptDeadlines, AttemptTimeoutError } from './attempt-deadlines.js';
import { type AttemptEnd, type AttemptFailure, WebhookAttempt } from './webhook-attempt.js';

export const ATTEMPT_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** Endpoint URLs kept parsed; past this many the cache starts over. */
const TARGET_CACHE_LIMIT = 10_000;

export interface WebhookMessage {
  url: string;
  /** Newest first. */
  secrets: string[];
  /** The endpoint's own headers, sent before Herald's (which they cannot name: see endpoint-headers.ts). */
  headers: Record<string, string> | null;
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

/** What OpenSSL says when the other side answers a TLS hello in plain text (an https URL, an http port). */
const PLAIN_TEXT_PEER = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/**
 * Texts for errors whose own message is an implementation's: an assertion in undici's parser (a status
 * line such as `HTTP/1.1 000`; undici asserts on nothing else of a receiver's), OpenSSL's reason with its
 * source file and line (the code before the text names the reason).
 */
function ownText(code: unknown, message: unknown): unknown {
  if (code === 'ERR_ASSERTION') return 'the answer is not valid HTTP';
  if (typeof code !== 'string' || !code.startsWith('ERR_SSL_')) return message;
  return PLAIN_TEXT_PEER.has(code)
    ? "TLS handshake failed; does the URL's port speak TLS?"
    : 'TLS handshake failed';
}

/** Error text an operator can act on, from undici's error chains. */
function describeError(error: unknown): string {
  const messages: string[] = [];
  for (let e = error as { message?: unknown; code?: unknown; cause?: unknown } | undefined; e;) {
    const text = [e.code, ownText(e.code, e.message)]
      .filter((part) => typeof part === 'string' && part)
      .join(': ');
    if (text && !messages.includes(text)) messages.push(text);
    e = e.cause as typeof e;
  }
  return messages.join(' ← ') || String(error);
}

/** What a redirect answer is recorded with: the receiver's log shows a 3xx, the operator sees why it failed. */
function redirectNotFollowed(location: string | undefined): string | null {
  if (location === undefined) return null;
  const target = location ? ` to ${storableText(location.slice(0, 500))}` : '';
  return `redirected${target}; Herald does not follow redirects: point the endpoint at the final URL`;
}

/** How much later than an attempt's deadline undici's own timeouts fire (they are a backstop). */
const UNDICI_TIMEOUT_MARGIN_MS = 5_000;

/**
 * POSTs signed webhook messages over keep-alive connections (one undici Agent for the process). Never
 * follows redirects: a 3xx is an answer, and a failure.
 */
@Injectable()
export class WebhookSender implements OnApplicationShutdown {
  private readonly agent: Agent;
  private readonly userAgent: string;
  private readonly deadlines = new AttemptDeadlines();
  private readonly targets = new Map<string, { origin: string; path: string }>();
  /** Contract §7: 15 s per attempt. Tests shorten it on the instance. */
  timeoutMs = ATTEMPT_TIMEOUT_MS;

  constructor(@Inject(HERALD_CONFIG) config: HeraldConfig) {
    this.userAgent = `Herald/${config.version}`;
    this.agent = new Agent({
      connect: guardedConnector(config.allowPrivateTargets, { timeout: CONNECT_TIMEOUT_MS, allowH2: false }),
      keepAliveTimeout: 30_000,
      // Later than the attempt's own deadline, which says `timed out after 15 s`: at the same time, the
      // two raced, and the same timeout was logged and stored under two texts.
      headersTimeout: ATTEMPT_TIMEOUT_MS + UNDICI_TIMEOUT_MARGIN_MS,
      bodyTimeout: ATTEMPT_TIMEOUT_MS + UNDICI_TIMEOUT_MARGIN_MS,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.close();
  }

  /** Origin and path of an endpoint URL, parsed once per URL rather than once per attempt. */
  private target(url: string): { origin: string; path: string } {
    let target = this.targets.get(url);
    if (!target) {
      if (this.targets.size >= TARGET_CACHE_LIMIT) this.targets.clear();
      const parsed = new URL(url);
      target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
      this.targets.set(url, target);
    }
    return target;
  }

  /** Aborts every attempt in flight (shutdown); they end with `status: null`. */
  abortAll(): void {
    this.deadlines.abortAll(new Error('cancelled by shutdown'));
  }

  /**
   * One attempt; never rejects. A failure before the request (a secret that cannot sign) is a failed
   * attempt like any other: thrown, it escaped the worker's bookkeeping and left the delivery leased
   * until the reaper made it due again, to fail the same way, forever.
   */
  async send(message: WebhookMessage): Promise<SendResult> {
    const started = performance.now();
    let end: AttemptEnd;
    try {
      end = await this.dispatch(message);
    } catch (error) {
      end = { answered: false, error, abortedWith: undefined };
    }
    const durationMs = Math.round(performance.now() - started);
    // A receiver's answer may hold NUL bytes, and one such text would fail the whole batch of
    // outcomes it is written with.
    if (end.answered) {
      return {
        status: end.status,
        body: storableText(end.excerpt),
        retryAfter: end.retryAfter,
        error: end.cutShort
          ? `answered, then the body failed: ${this.describeFailure(end.cutShort)}`
          : redirectNotFollowed(end.redirectedTo),
        durationMs,
      };
    }
    return { status: null, body: null, retryAfter: undefined, error: this.describeFailure(end), durationMs };
  }

  /** Signs and sends the message; resolves once the attempt has ended, however it ended. */
  private async dispatch(message: WebhookMessage): Promise<AttemptEnd> {
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      ...message.headers,
      'content-type': 'application/json',
      'user-agent': this.userAgent,
      ...(await signedHeaders(message.secrets, message.id, timestamp, message.body)),
    };
    return new Promise<AttemptEnd>((resolve) => {
      const attempt = new WebhookAttempt((ended) => {
        this.deadlines.finish(attempt);
        resolve(ended);
      });
      this.deadlines.start(attempt, this.timeoutMs);
      try {
        const target = this.target(message.url);
        this.agent.dispatch(
          {
            origin: target.origin,
            path: target.path,
            method: 'POST',
            headers,
            body: message.body,
          },
          attempt,
        );
      } catch (error) {
        attempt.fail(error);
      }
    });
  }

  private describeFailure({ error, abortedWith }: AttemptFailure): string {
    return abortedWith instanceof AttemptTimeoutError
      ? `timed out after ${this.timeoutMs / 1000} s`
      : storableText(describeError(error));
  }
}
