import { ErrorCode } from './error-code.js';

export interface ProblemFieldError {
  /** Dotted path of the offending field or parameter, when there is one. */
  field?: string;
  message: string;
}

/** The exception every Herald module throws; `ProblemDetailsFilter` turns it into problem+json. */
export class HeraldException extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors: ProblemFieldError[] = [],
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = 'HeraldException';
  }

  static validation(detail: string, errors: ProblemFieldError[] = []): HeraldException {
    return new HeraldException(ErrorCode.ValidationFailed, detail, errors);
  }

  /** A `since`/`until` pair whose `until` is not after `since` (an empty range, surely a mistake). */
  static emptyTimeRange(): HeraldException {
    return HeraldException.validation('"until" must be after "since".', [
      { field: 'until', message: 'must be after since' },
    ]);
  }

  static notFound(what: string, id: string): HeraldException {
    return new HeraldException(ErrorCode.NotFound, `${what} ${id} does not exist`);
  }
}
