import { HttpException } from '@nestjs/common';
import { AdapterError, type AdapterErrorCode } from '@herald/events';
import { describeErrorCode, ErrorCode } from './error-code.js';
import { HeraldException, type ProblemFieldError } from './herald-exception.js';

/** RFC 9457 problem details, Herald flavour (contract §5). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors: ProblemFieldError[];
}

export interface ProblemResponse {
  problem: Problem;
  headers: Record<string, string>;
  /** Unexpected errors are logged with their stack; expected ones are not. */
  unexpected: boolean;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://herald.dev/problems/';

export function problemOf(code: ErrorCode, detail: string, errors: ProblemFieldError[] = []): Problem {
  const { status, title } = describeErrorCode(code);
  return { type: TYPE_BASE + code, title, status, detail, code, errors };
}

function adapterCode(code: AdapterErrorCode): ErrorCode {
  switch (code) {
    case 'invalid_config':
    case 'invalid_action_input':
      return ErrorCode.ValidationFailed;
    case 'missing_signature':
      return ErrorCode.MissingSignature;
    case 'invalid_signature':
      return ErrorCode.InvalidSignature;
    case 'invalid_json':
      return ErrorCode.InvalidJson;
    case 'invalid_body':
      return ErrorCode.InvalidBody;
    case 'unsupported_media_type':
      return ErrorCode.UnsupportedMediaType;
    case 'unknown_action':
      return ErrorCode.NotFound;
    case 'upstream_refused':
      return ErrorCode.UpstreamRefused;
    case 'upstream_unreachable':
      return ErrorCode.UpstreamUnreachable;
  }
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: ErrorCode.ValidationFailed,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  405: ErrorCode.MethodNotAllowed,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
};

/** Fastify's own errors (body parsing, limits) carry a statusCode and an FST_ code. */
interface FrameworkError {
  statusCode?: number;
  code?: string;
  message?: string;
}

/** Fastify's JSON parser errors, whether they arrive raw or wrapped by Nest in an HttpException. */
function jsonParseProblem(error: FrameworkError): Problem | undefined {
  const { code, message = '' } = error;
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /is not valid JSON/.test(message)) {
    return problemOf(ErrorCode.InvalidJson, 'The request body is not valid JSON.');
  }
  return undefined;
}

function fromFrameworkError(error: FrameworkError): Problem | undefined {
  const status = error.statusCode;
  if (!status || status < 400 || status >= 500) return undefined;
  return (
    jsonParseProblem(error) ??
    problemOf(STATUS_CODES[status] ?? ErrorCode.ValidationFailed, error.message ?? 'Bad request')
  );
}

function fromHttpException(exception: HttpException): Problem {
  const status = exception.getStatus();
  const response = exception.getResponse();
  const code = STATUS_CODES[status] ?? (status >= 500 ? ErrorCode.Internal : ErrorCode.ValidationFailed);
  const message =
    typeof response === 'object' && response !== null
      ? (response as { message?: unknown }).message
      : response;
  if (Array.isArray(message)) {
    return problemOf(
      code,
      'The request is not valid.',
      message.map((m) => ({ message: String(m), field: String(m).split(' ')[0] })),
    );
  }
  return problemOf(code, typeof message === 'string' ? message : exception.message);
}

const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

/** Driver and ORM wordings for "the connection under this query is gone". */
const CONNECTION_LOST =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Query runner already released|Cannot use a pool after calling end/i;

/**
 * Connection-level failures (refused, reset, admin shutdown, "cannot connect now") mean the database is
 * down, not that the request was wrong: the client should retry later.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (
    let e = error as
      | { code?: unknown; name?: unknown; driverError?: unknown; cause?: unknown; message?: unknown }
      | undefined;
    e;
  ) {
    const code = typeof e.code === 'string' ? e.code : '';
    // 08: connection exception; 57P0x: admin/crash shutdown, cannot connect now; 53300: too many connections.
    if (UNAVAILABLE_ERRNO.has(code) || code.startsWith('08') || code.startsWith('57P0') || code === '53300') {
      return true;
    }
    if (e.name === 'QueryRunnerAlreadyReleasedError') return true;
    if (typeof e.message === 'string' && CONNECTION_LOST.test(e.message)) return true;
    e = (e.driverError ?? e.cause) as typeof e;
  }
  return false;
}

export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * Postgres class 22 (data exception): a value the request carried that the database cannot store,
 * e.g. `\u0000` inside JSON text. Validation should catch these first; this keeps any that slip through
 * a 400 instead of a 500.
 */
function isRefusedValue(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | undefined;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' && code.startsWith('22');
}

/** The one place that turns any thrown value into a problem response. */
export function toProblem(error: unknown): ProblemResponse {
  // Herald's and the adapters' own errors first: an adapter's network failure towards its provider
  // (ECONNREFUSED in its cause) is not the database being down.
  if (error instanceof HeraldException) {
    return {
      problem: problemOf(error.code, error.detail, error.errors),
      headers: error.headers,
      unexpected: false,
    };
  }
  if (error instanceof AdapterError) {
    const errors = error.details.map((detail) => (typeof detail === 'string' ? { message: detail } : detail));
    return {
      problem: problemOf(adapterCode(error.code), error.message, errors),
      headers: {},
      unexpected: false,
    };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      problem: problemOf(
        ErrorCode.DatabaseUnavailable,
        'The database is unreachable; nothing was changed. Retry later.',
      ),
      headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
      unexpected: false,
    };
  }
  if (isRefusedValue(error)) {
    const detail = 'The request carries a value that cannot be stored (for example a NUL character).';
    return { problem: problemOf(ErrorCode.ValidationFailed, detail), headers: {}, unexpected: false };
  }
  if (error instanceof HttpException) {
    return { problem: jsonParseProblem(error) ?? fromHttpException(error), headers: {}, unexpected: false };
  }
  const framework =
    typeof error === 'object' && error !== null ? fromFrameworkError(error as FrameworkError) : undefined;
  if (framework) return { problem: framework, headers: {}, unexpected: false };
  return {
    problem: problemOf(
      ErrorCode.Internal,
      'An unexpected error occurred; it has been logged under requestId.',
    ),
    headers: {},
    unexpected: true,
  };
}
