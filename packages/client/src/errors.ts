export type HeraldClientErrorCode =
  | 'unauthorized'
  | 'connection_failed'
  | 'subscribe_failed'
  | 'cursor_expired'
  | 'cursor_reset'
  | 'handler_failed'
  | 'closed'
  | 'invalid_signature';

/**
 * Every error the SDK reports; `cause` holds the underlying error or the server's answer, and
 * `serverCode` the code the server refused a subscription with (`invalid_filter`, `invalid_cursor`, …),
 * so a caller can branch on it without reading the message.
 */
export class HeraldClientError extends Error {
  readonly serverCode: string | undefined;

  constructor(
    readonly code: HeraldClientErrorCode,
    message: string,
    options: { cause?: unknown; serverCode?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'HeraldClientError';
    this.serverCode = options.serverCode;
  }
}
