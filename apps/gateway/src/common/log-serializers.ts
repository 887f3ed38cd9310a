import pino from 'pino';
import { isDatabaseUnavailable } from './errors/problem.js';

/**
 * Fields of a failed statement's error that carry its values: TypeORM's `parameters`, Postgres's
 * `detail` (it quotes a failing row or key) and `where` (it quotes the JSON a jsonb input choked on), and
 * `internalQuery`. Endpoint secrets, source tokens and event payloads are among them, and error lines
 * are the ones shipped to aggregators and paging tools; the statement's text, the SQLSTATE `code`, the
 * constraint and the table say what failed without them.
 */
const VALUE_FIELDS = ['parameters', 'detail', 'where', 'internalQuery'];

/** The prototype of pino's copies of errors: only those are ours to change, never the values they point to. */
const SERIALIZED_ERROR = Object.getPrototypeOf(pino.stdSerializers.err(new Error()));

/**
 * `serialized` without VALUE_FIELDS, in it and in the nested errors pino copied (`driverError`, an
 * AggregateError's `aggregateErrors`, …).
 */
function withoutValues(serialized: unknown): unknown {
  if (Array.isArray(serialized)) {
    serialized.forEach(withoutValues);
    return serialized;
  }
  if (typeof serialized !== 'object' || serialized === null) return serialized;
  if (Object.getPrototypeOf(serialized) !== SERIALIZED_ERROR) return serialized;
  const record = serialized as Record<string, unknown>;
  for (const field of VALUE_FIELDS) delete record[field];
  for (const value of Object.values(record)) withoutValues(value);
  return record;
}

/**
 * A lost database connection is logged by each component that meets it, every few seconds while the
 * database is away: its stack (about 1 KB of driver frames) says nothing the code and message do not.
 */
export function serializeError(error: unknown): unknown {
  if (!isDatabaseUnavailable(error)) return withoutValues(pino.stdSerializers.err(error as Error));
  const { name, message, code } = error as { name?: string; message?: string; code?: string };
  return { type: name, message, code };
}
