import { describe, expect, it } from '@jest/globals';
import { AdapterError } from '@herald/events';
import { QueryFailedError, QueryRunnerAlreadyReleasedError } from 'typeorm';
import { ErrorCode } from '../src/common/errors/error-code.js';
import { HeraldException } from '../src/common/errors/herald-exception.js';
import { toProblem } from '../src/common/errors/problem.js';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe(toProblem.name, () => {
  it.each([
    [
      'refused connections',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ],
    ['an admin shutdown', pgError('57P01', 'terminating connection due to administrator command')],
    ['a server starting up', pgError('57P03', 'the database system is starting up')],
    ['too many connections', pgError('53300', 'sorry, too many clients already')],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    [
      'a client whose connection failed',
      new Error('Client has encountered a connection error and is not queryable'),
    ],
    ['a runner released under a dying transaction', new QueryRunnerAlreadyReleasedError()],
    ['a wrapped driver error', new QueryFailedError('SELECT 1', [], pgError('08006', 'connection failure'))],
  ])('answers 503 with Retry-After for %s', (_name, error) => {
    const { problem, headers, unexpected } = toProblem(error);
    expect(problem).toMatchObject({ status: 503, code: ErrorCode.DatabaseUnavailable });
    expect(headers['retry-after']).toMatch(/^\d+$/);
    expect(unexpected).toBe(false);
  });

  it('answers 400 for a value Postgres cannot store', () => {
    const error = new QueryFailedError(
      'INSERT …',
      [],
      pgError('22P05', 'unsupported Unicode escape sequence'),
    );
    expect(toProblem(error).problem).toMatchObject({ status: 400, code: ErrorCode.ValidationFailed });
  });

  it('maps Herald and adapter errors by their codes, and anything else to a logged 500', () => {
    expect(toProblem(new HeraldException(ErrorCode.CursorExpired, 'old')).problem.status).toBe(410);
    expect(toProblem(new AdapterError('invalid_signature', 'bad')).problem).toMatchObject({
      status: 401,
      code: ErrorCode.InvalidSignature,
    });
    const unknown = toProblem(new TypeError('boom'));
    expect(unknown).toMatchObject({ problem: { status: 500, code: ErrorCode.Internal }, unexpected: true });
    expect(unknown.problem.detail).not.toContain('boom');
  });
});
