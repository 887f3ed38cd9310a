import { applyDecorators } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  getSchemaPath,
  type ResponseObject,
} from '@nestjs/swagger';
import { describeErrorCode, ErrorCode } from './error-code.js';
import type { ProblemFieldError } from './herald-exception.js';
import { type Problem, PROBLEM_CONTENT_TYPE } from './problem.js';

class ProblemFieldErrorDto implements ProblemFieldError {
  @ApiPropertyOptional({ description: 'Dotted path of the offending field or parameter' }) field?: string;
  @ApiProperty() message: string;
}

/** The `Problem` every error answers with, for the OpenAPI document. */
export class ProblemDto implements Problem {
  @ApiProperty({ example: 'https://herald.dev/problems/validation_failed' }) type: string;
  @ApiProperty({ example: 'Validation failed' }) title: string;
  @ApiProperty({ type: 'integer', example: 400 }) status: number;
  @ApiProperty({ example: 'The request is not valid.' }) detail: string;
  @ApiProperty({ enum: ErrorCode, enumName: 'ErrorCode', description: 'Machine-readable; one status each' })
  code: ErrorCode;
  @ApiProperty({ type: [ProblemFieldErrorDto] }) errors: ProblemFieldErrorDto[];
}

/**
 * Every route that takes an API key can answer these (the body ones only where there is a body: a
 * request that sends one anyway can meet them too).
 */
const AUTHENTICATED_ROUTE_CODES = [
  ErrorCode.ValidationFailed,
  ErrorCode.InvalidJson,
  ErrorCode.Unauthorized,
  ErrorCode.Forbidden,
  ErrorCode.NotFound,
  ErrorCode.MethodNotAllowed,
  ErrorCode.PayloadTooLarge,
  ErrorCode.UnsupportedMediaType,
  ErrorCode.DatabaseUnavailable,
  ErrorCode.Internal,
];

const header = (description: string) => ({ description, schema: { type: 'string' as const } });

/** The headers an answer of a status carries, as the guard, the router and the filter set them. */
const STATUS_HEADERS: Record<number, ResponseObject['headers']> = {
  401: {
    'WWW-Authenticate': header('`Bearer`, or `Bearer error="invalid_token"` for a key that is not one'),
  },
  405: { Allow: header('The methods the path takes') },
  503: {
    'Retry-After': header('With `database_unavailable` from the API: seconds to wait before trying again'),
  },
};

/** `codes` as OpenAPI responses, one per status, each naming its codes; the status comes from the code table. */
export function problemResponses(codes: readonly ErrorCode[]): Record<string, ResponseObject> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = describeErrorCode(code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, ResponseObject> = {};
  for (const [status, withStatus] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[status] = {
      description: `problem+json; \`code\`: ${withStatus.map((code) => `\`${code}\``).join(', ')}`,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDto) } } },
      ...(STATUS_HEADERS[status] && { headers: STATUS_HEADERS[status] }),
    };
  }
  return responses;
}

/**
 * The errors of every route of an API-key controller, documented once on the controller: the common
 * codes plus the controller's own.
 */
export const ApiProblemResponses = (...codes: ErrorCode[]) =>
  applyDecorators(
    ApiExtraModels(ProblemDto),
    ...Object.entries(problemResponses([...AUTHENTICATED_ROUTE_CODES, ...codes])).map(([status, response]) =>
      ApiResponse({ status: Number(status), ...response }),
    ),
  );
