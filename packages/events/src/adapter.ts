/**
 * The one interface between the gateway and provider adapters. The gateway knows providers only
 * through an `AdapterRegistry` of these; everything provider-specific lives in the adapter package.
 */
import type { Clock } from './clock.js';

export type SourceMode = 'webhook' | 'stream';

/** An event as an adapter produces it; the gateway adds id, seq, source, receivedat. */
export interface NormalizedEvent {
  type: string;
  /** Path-like subject, e.g. `rooms/<id>/peers/<id>`. */
  subject?: string;
  /** The provider's own time for the event, when it gives one. */
  time?: Date;
  /** Normalized camelCase payload, documented per type. */
  data: Record<string, unknown>;
  /** The provider's original bytes for this event (one notification of a batch, or the whole body). */
  raw?: { body: Uint8Array; contentType: string };
  /** Provider-native identity: a second event with the same key from the same source is stored once. */
  dedupKey?: string;
  /**
   * When a stream adapter received the provider's message (see `stampArrival`). Stream emits wait for
   * the commits before them, for minutes during a database outage, so the gateway's own clock at
   * store time would be the commit time. Left out, the gateway stamps its own receive time.
   */
  receivedAt?: Date;
}

/** Stamps a stream's fresh events with their arrival time, read now (when the message arrived). */
export function stampArrival(events: NormalizedEvent[], clock: Clock): NormalizedEvent[] {
  const receivedAt = new Date(clock.now());
  for (const event of events) event.receivedAt ??= receivedAt;
  return events;
}

export interface WebhookRequest {
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Readonly<Record<string, string | undefined>>;
  /** The media type without parameters, lower-cased ('' when absent). */
  contentType: string;
  /** The exact request bytes, for signatures computed over the raw body. */
  body: Uint8Array;
}

export type AdapterErrorCode =
  | 'invalid_config'
  | 'missing_signature'
  | 'invalid_signature'
  /** The body should be UTF-8 JSON and is not (the gateway leaves parsing webhook bodies to adapters). */
  | 'invalid_json'
  | 'invalid_body'
  | 'unsupported_media_type'
  | 'unknown_action'
  | 'invalid_action_input'
  | 'upstream_refused'
  | 'upstream_unreachable';

/** The only error type adapters throw at the gateway; the gateway maps each code to an HTTP status. */
export class AdapterError extends Error {
  /** What exactly was wrong: text, or the field at fault with what is wrong with it. */
  readonly details: readonly (string | FieldError)[];

  constructor(
    readonly code: AdapterErrorCode,
    message: string,
    options: { cause?: unknown; details?: readonly (string | FieldError)[] } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AdapterError';
    this.details = options.details ?? [];
  }
}

/** One thing wrong with an input (a source config, an action's body): `field` names its key, left out when the whole input is at fault. */
export interface FieldError {
  field?: string;
  message: string;
}

export type ConfigCheck = { ok: true; config: Record<string, unknown> } | { ok: false; errors: FieldError[] };

export type StreamState = 'connecting' | 'connected' | 'backoff' | 'auth_failed' | 'stopped';

export interface StreamStateChange {
  state: StreamState;
  /**
   * Why, for `backoff` and `auth_failed`; for `connected`, a warning about the connection that holds
   * (a refused token renewal), cleared by the next `connected` without one. Shown as the status's `lastError`.
   */
  reason?: string;
}

/** pino-compatible structured logger. */
export interface AdapterLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface StreamContext {
  readonly sourceId: string;
  /** Stores events; resolves once they are committed. Rejects when the store is unavailable. */
  emit(events: NormalizedEvent[]): Promise<void>;
  /**
   * The dedup key of the newest event this source has stored whose key starts with `prefix`, from any
   * earlier run or instance, looked for among its last 10,000 events (null when none is). The stored
   * events are the stream's checkpoint:
   * a provider that numbers its changes can tell what it missed while nobody held the stream.
   */
  lastDedupKey(prefix: string): Promise<string | null>;
  /** Reports every state transition; the gateway turns them into `herald.source.*` events. */
  setState(change: StreamStateChange): void;
  /** Already names the source (`sourceId`) and its provider on every line: a second key repeats it. */
  readonly logger: AdapterLogger;
  readonly clock: Clock;
  /** Random source in [0, 1) for jitter; injectable for tests. */
  readonly random: () => number;
}

/** A running connection to a provider's event stream. */
export interface StreamSource {
  /** Starts connecting; never throws (failures are reported through `setState`). */
  start(): void;
  /** Closes the connection and cancels every timer; the source reports `stopped`. */
  stop(): Promise<void>;
  /**
   * Settles (never rejects) once every event received before the call has been handed to `emit` and
   * that emit has settled: the gateway stores a state change's own event after them.
   */
  settled(): Promise<void>;
}

export interface ActionContext {
  readonly sourceId: string;
  readonly logger: AdapterLogger;
}

/** What the OpenAPI document says of a source action. */
export interface ActionDoc {
  summary: string;
  /** JSON Schema of the action's body. */
  input: Record<string, unknown>;
}

export interface ProviderAdapter {
  /** The `provider` value of sources and events, e.g. `seatable`. */
  readonly provider: string;
  readonly modes: readonly SourceMode[];
  /** Media types the webhook receiver accepts; anything else is refused with 415. */
  readonly webhookContentTypes: readonly string[];
  /** True when the provider keeps no replay, so a disconnect may have lost events. */
  readonly disconnectMayLoseEvents: boolean;
  /** Validates a source config for a mode and returns it normalized (defaults filled in). */
  parseConfig(mode: SourceMode, config: unknown): ConfigCheck;
  /** The config with secrets masked, for API responses. */
  redactConfig(mode: SourceMode, config: Record<string, unknown>): Record<string, unknown>;
  /**
   * Config fields that say where secrets are sent (`serverUrl`), each with those secrets. A change that
   * moves such a field must give its secrets again: the stored ones are never sent to a server nobody
   * entered them for (GET masks them, so a merge would otherwise hand them to whatever host it names).
   */
  secretsSentTo(mode: SourceMode): ReadonlyArray<{ field: string; secrets: readonly string[] }>;
  /**
   * Turns one webhook request into events; throws AdapterError for bad signatures or bodies. Never called
   * with an empty body: the gateway refuses those for every provider (400 `empty_body`).
   */
  parseWebhook(request: WebhookRequest, config: Record<string, unknown>): NormalizedEvent[];
  /** Present when the provider supports `mode: "stream"`. */
  createStream?(config: Record<string, unknown>, context: StreamContext): StreamSource;
  /** Operator actions on a source, e.g. SeaTable's `toasts` (`POST /v1/sources/:id/toasts`). */
  readonly actions?: Readonly<
    Record<
      string,
      (config: Record<string, unknown>, input: unknown, context: ActionContext) => Promise<unknown>
    >
  >;
  /** One per action, for the OpenAPI document. */
  readonly actionDocs?: Readonly<Record<string, ActionDoc>>;
}

/** Masks a secret for display: the first four characters and a length hint. */
export function maskSecret(secret: string): string {
  return secret.length <= 8 ? '****' : `${secret.slice(0, 4)}****`;
}
