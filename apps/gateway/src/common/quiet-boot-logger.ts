import type { LoggerService } from '@nestjs/common';

/**
 * Nest's own start-up chatter: a line per module and one per route (about 45 at info), which buried
 * the one-time admin key printed beside them. Kept at debug.
 */
const BOOT_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'WebSocketsController',
  'NestFactory',
  'NestApplication',
]);

/** Nest's logger with its start-up lines demoted to debug; everything else passes through. */
export function quietBootLogger(logger: LoggerService): LoggerService {
  return {
    log: (message: unknown, ...params: unknown[]) =>
      BOOT_CONTEXTS.has(params.at(-1) as string)
        ? logger.debug?.(message, ...params)
        : logger.log(message, ...params),
    error: (message: unknown, ...params: unknown[]) => logger.error(message, ...params),
    warn: (message: unknown, ...params: unknown[]) => logger.warn(message, ...params),
    debug: (message: unknown, ...params: unknown[]) => logger.debug?.(message, ...params),
    verbose: (message: unknown, ...params: unknown[]) => logger.verbose?.(message, ...params),
    fatal: (message: unknown, ...params: unknown[]) => logger.fatal?.(message, ...params),
  };
}
