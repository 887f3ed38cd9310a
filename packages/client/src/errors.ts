export type HeraldClientErrorCode =
  | 'unauthorized'
  | 'connection_failed'
  | 'subscribe_failed'
  | 'cursor_expired'
  | 'handler_failed'
  | 'closed'
  | 'invalid_signature';

/** Every error the SDK reports; `cause` holds the underlying error or the server's answer. */
export class HeraldClientError extends Error {
  constructor(
    readonly code: HeraldClientErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'HeraldClientError';
  }
}
