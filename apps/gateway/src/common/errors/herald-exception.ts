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

  static notFound(what: string, id: string): HeraldException {
    return new HeraldException(ErrorCode.NotFound, `${what} ${id} does not exist`);
  }
}
