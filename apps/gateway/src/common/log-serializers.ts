import pino from 'pino';
import { isDatabaseUnavailable } from './errors/problem.js';

/**
 * A lost database connection is logged by each component that meets it, every few seconds while the
 * database is away: its stack (about 1 KB of driver frames) says nothing the code and message do not.
 */
export function serializeError(error: unknown): unknown {
  if (!isDatabaseUnavailable(error)) return pino.stdSerializers.err(error as Error);
  const { name, message, code } = error as { name?: string; message?: string; code?: string };
  return { type: name, message, code };
}
