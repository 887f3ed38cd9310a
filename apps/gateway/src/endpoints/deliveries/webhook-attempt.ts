import type { Dispatcher } from 'undici';
import type { Abortable } from './attempt-deadlines.js';

/** What an attempt keeps of the receiver's answer. */
export const RESPONSE_EXCERPT_BYTES = 2_048;
/** Bodies up to this size are drained so the connection can be reused; bigger ones close it. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/** What ended an attempt early: an error, and the reason it was aborted with, if it was. */
export interface AttemptFailure {
  error: unknown;
  abortedWith: Error | undefined;
}

export type AttemptEnd =
  | {
      answered: true;
      status: number;
      retryAfter: string | undefined;
      /** A redirect's `Location` ('' when it names none); undefined for any other answer. */
      redirectedTo: string | undefined;
      excerpt: string;
      /** The body failed after the status line and headers (the excerpt is what arrived before). */
      cutShort: AttemptFailure | undefined;
    }
  | ({ answered: false } & AttemptFailure);

class BodyTooLargeError extends Error {}

/**
 * One POST as an undici dispatch handler: keeps the status, `Retry-After` and the first
 * RESPONSE_EXCERPT_BYTES of the body, and settles `done` exactly once. Driving undici at this level
 * rather than through `request()` skips its body stream, its promise plumbing and an AbortSignal per
 * attempt, which together cost as much CPU as the request itself (docs/performance.md).
 * `abort` may come before undici has started the request (still connecting): the attempt ends at
 * once, and the request is aborted as soon as undici starts it.
 */
export class WebhookAttempt implements Dispatcher.DispatchHandler, Abortable {
  private controller: Dispatcher.DispatchController | undefined;
  private abortedWith: Error | undefined;
  private settled = false;
  private status = 0;
  private retryAfter: string | undefined;
  private redirectedTo: string | undefined;
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private received = 0;

  constructor(private readonly done: (end: AttemptEnd) => void) {}

  abort(reason: Error): void {
    this.abortedWith ??= reason;
    if (this.controller) this.controller.abort(reason);
    else this.fail(reason);
  }

  /** The request could not even be handed to undici (it threw). */
  fail(error: unknown): void {
    this.settle({ answered: false, error, abortedWith: this.abortedWith });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortedWith) controller.abort(this.abortedWith);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.status = statusCode;
    const retryAfter = headers['retry-after'];
    this.retryAfter = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
    if (statusCode >= 300 && statusCode < 400) {
      const location = headers.location;
      this.redirectedTo = (Array.isArray(location) ? location[0] : location) ?? '';
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.received += chunk.length;
    if (this.kept < RESPONSE_EXCERPT_BYTES) {
      const part = chunk.subarray(0, RESPONSE_EXCERPT_BYTES - this.kept);
      this.chunks.push(part);
      this.kept += part.length;
    }
    // The answer is in; the rest of a huge body is not worth reading to keep the connection.
    if (this.received > DRAIN_LIMIT_BYTES) controller.abort(new BodyTooLargeError());
  }

  onResponseEnd(): void {
    this.answered();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (error instanceof BodyTooLargeError) this.answered();
    // The status is in: the receiver has decided, and resending a 2xx whose body then stalled or broke
    // would deliver twice.
    else if (this.status !== 0) this.answered({ error, abortedWith: this.abortedWith });
    else this.fail(error);
  }

  private answered(cutShort?: AttemptFailure): void {
    this.settle({
      answered: true,
      status: this.status,
      retryAfter: this.retryAfter,
      redirectedTo: this.redirectedTo,
      excerpt: Buffer.concat(this.chunks).toString('utf8'),
      cutShort,
    });
  }

  private settle(end: AttemptEnd): void {
    if (this.settled) return;
    this.settled = true;
    this.done(end);
  }
}
