import { describe, expect, it } from '@jest/globals';
import { serializeError } from '../src/common/log-serializers.js';

const SECRET = 'whsec_do-not-log-me';

/** An error as node-postgres raises it for a statement whose values are at fault. */
const statementError = () =>
  Object.assign(new Error('invalid input syntax for type json'), {
    code: '22P02',
    detail: `Failing row contains (${SECRET})`,
    where: `JSON data, line 1: {"secret": "${SECRET}`,
    internalQuery: `SELECT '${SECRET}'`,
  });

describe(serializeError.name, () => {
  it('keeps what failed and leaves out the values, in nested and aggregated errors too', () => {
    const failed = Object.assign(new Error('query failed'), {
      query: 'INSERT INTO endpoints (secret) VALUES ($1)',
      parameters: [SECRET],
      driverError: statementError(),
    });
    const aggregated = new AggregateError([statementError(), failed], 'both failed');
    const written = JSON.stringify([serializeError(failed), serializeError(aggregated)]);
    expect(written).not.toContain(SECRET);
    expect(serializeError(failed)).toMatchObject({
      query: 'INSERT INTO endpoints (secret) VALUES ($1)',
      driverError: { code: '22P02', message: 'invalid input syntax for type json' },
    });
  });

  it('leaves the error itself as it was', () => {
    const failed = Object.assign(statementError(), { parameters: [SECRET] });
    serializeError(failed);
    expect(failed.parameters).toEqual([SECRET]);
    expect(failed.detail).toContain(SECRET);
  });
});
