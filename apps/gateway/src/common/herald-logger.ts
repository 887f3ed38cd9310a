import { systemClock } from '@herald/events';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { databaseOutageLogHook } from './database-outage-log-hook.js';
import { serializeError } from './log-serializers.js';

/** The root logger every Herald component logs through (children inherit its serializer and hook). */
export function createHeraldLogger(
  options: Pick<LoggerOptions, 'level' | 'base'>,
  destination?: DestinationStream,
): Logger {
  const settings: LoggerOptions = {
    ...options,
    serializers: { err: serializeError },
    hooks: { logMethod: databaseOutageLogHook(systemClock) },
  };
  return destination ? pino(settings, destination) : pino(settings);
}
