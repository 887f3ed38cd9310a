/** Every machine-readable error Herald answers with; each maps to exactly one HTTP status. */
export enum ErrorCode {
  ValidationFailed = 'validation_failed',
  InvalidJson = 'invalid_json',
  InvalidFilter = 'invalid_filter',
  InvalidCursor = 'invalid_cursor',
  InvalidBody = 'invalid_body',
  EmptyBody = 'empty_body',
  Unauthorized = 'unauthorized',
  MissingSignature = 'missing_signature',
  InvalidSignature = 'invalid_signature',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  MethodNotAllowed = 'method_not_allowed',
  Conflict = 'conflict',
  IdempotencyConflict = 'idempotency_conflict',
  LastAdminKey = 'last_admin_key',
  SourceDisabled = 'source_disabled',
  CursorExpired = 'cursor_expired',
  RequestTimeout = 'request_timeout',
  PayloadTooLarge = 'payload_too_large',
  HeadersTooLarge = 'headers_too_large',
  MalformedRequest = 'malformed_request',
  UnsupportedMediaType = 'unsupported_media_type',
  UnprocessableAction = 'unprocessable_action',
  UpstreamRefused = 'upstream_refused',
  UpstreamUnreachable = 'upstream_unreachable',
  DatabaseUnavailable = 'database_unavailable',
  ShuttingDown = 'shutting_down',
  Internal = 'internal',
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled error code ${String(value)}`);
}

/** The one code → (status, title) table; adding a code without a case fails to compile. */
export function describeErrorCode(code: ErrorCode): { status: number; title: string } {
  switch (code) {
    case ErrorCode.ValidationFailed:
      return { status: 400, title: 'Validation failed' };
    case ErrorCode.InvalidJson:
      return { status: 400, title: 'Malformed JSON' };
    case ErrorCode.InvalidFilter:
      return { status: 400, title: 'Invalid filter' };
    case ErrorCode.InvalidCursor:
      return { status: 400, title: 'Invalid cursor' };
    case ErrorCode.InvalidBody:
      return { status: 400, title: 'Undecodable body' };
    case ErrorCode.EmptyBody:
      return { status: 400, title: 'Empty body' };
    case ErrorCode.Unauthorized:
      return { status: 401, title: 'Unauthorized' };
    case ErrorCode.MissingSignature:
      return { status: 401, title: 'Missing signature' };
    case ErrorCode.InvalidSignature:
      return { status: 401, title: 'Invalid signature' };
    case ErrorCode.Forbidden:
      return { status: 403, title: 'Forbidden' };
    case ErrorCode.NotFound:
      return { status: 404, title: 'Not found' };
    case ErrorCode.MethodNotAllowed:
      return { status: 405, title: 'Method not allowed' };
    case ErrorCode.Conflict:
      return { status: 409, title: 'Conflict' };
    case ErrorCode.IdempotencyConflict:
      return { status: 409, title: 'Idempotency key reused with a different request' };
    case ErrorCode.LastAdminKey:
      return { status: 409, title: 'The last admin key cannot be deleted' };
    case ErrorCode.SourceDisabled:
      return { status: 409, title: 'Source disabled' };
    case ErrorCode.CursorExpired:
      return { status: 410, title: 'Cursor expired' };
    case ErrorCode.RequestTimeout:
      return { status: 408, title: 'Request timeout' };
    case ErrorCode.PayloadTooLarge:
      return { status: 413, title: 'Payload too large' };
    case ErrorCode.HeadersTooLarge:
      return { status: 431, title: 'Request headers too large' };
    case ErrorCode.MalformedRequest:
      return { status: 400, title: 'Malformed HTTP request' };
    case ErrorCode.UnsupportedMediaType:
      return { status: 415, title: 'Unsupported media type' };
    case ErrorCode.UnprocessableAction:
      return { status: 422, title: 'Action not possible' };
    case ErrorCode.UpstreamRefused:
      return { status: 502, title: 'Provider refused the request' };
    case ErrorCode.UpstreamUnreachable:
      return { status: 504, title: 'Provider unreachable' };
    case ErrorCode.ShuttingDown:
      return { status: 503, title: 'Shutting down' };
    case ErrorCode.DatabaseUnavailable:
      return { status: 503, title: 'Database unavailable' };
    case ErrorCode.Internal:
      return { status: 500, title: 'Internal error' };
    default:
      return assertUnreachable(code);
  }
}
