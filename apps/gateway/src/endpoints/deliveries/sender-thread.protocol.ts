import type { PosterOptions, SendResult, WebhookMessage } from './webhook-poster.js';

/** One message to post; `ticket` pairs it with its result. */
export interface TicketedMessage extends WebhookMessage {
  ticket: number;
  /** Whose request slots it waits for. */
  endpointId: string;
}

/** From the gateway to its sender thread. */
export type ToSenderThread =
  | { kind: 'post'; messages: TicketedMessage[] }
  /** Every attempt in flight ends now, with `status: null` (shutdown). */
  | { kind: 'abort-all' }
  /** Messages still waiting for a request slot are answered `null`, unsent (shutdown). */
  | { kind: 'drop-waiting' };

/** From the sender thread to the gateway: results in the order they came in. */
export interface FromSenderThread {
  kind: 'results';
  /** `result` is `null` for a message dropped before it was sent. */
  results: Array<{ ticket: number; result: SendResult | null }>;
}

export interface SenderThreadOptions extends PosterOptions {
  /** Requests in flight to one endpoint. */
  perEndpointConcurrency: number;
}
