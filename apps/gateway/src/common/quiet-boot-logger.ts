import type { LoggerService } from '@nestjs/common';
import type { Logger as PinoLogger } from 'pino';

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

/**
 * Where Nest reports an error that stops the start. Herald has Nest throw it instead of exiting
 * (`abortOnError: false`), and main.ts logs it as the one fatal line: at error as well, each start that
 * failed said so twice, each time with the whole stack.
 */
const START_FAILURE_CONTEXT = 'ExceptionHandler';

/**
 * Nest's logger with its start-up lines, and its copy of an error that stops the start, demoted to
 * debug; everything else passes through.
 */
export function quietBootLogger(logger: LoggerService): LoggerService {
  return {
    log: (message: unknown, ...params: unknown[]) =>
      BOOT_CONTEXTS.has(params.at(-1) as string)
        ? logger.debug?.(message, ...params)
        : logger.log(message, ...params),
    error: (message: unknown, ...params: unknown[]) =>
      params.at(-1) === START_FAILURE_CONTEXT
        ? logger.debug?.(message, ...params)
        : logger.error(message, ...params),
    warn: (message: unknown, ...params: unknown[]) => logger.warn(message, ...params),
    debug: (message: unknown, ...params: unknown[]) => logger.debug?.(message, ...params),
    verbose: (message: unknown, ...params: unknown[]) => logger.verbose?.(message, ...params),
    fatal: (message: unknown, ...params: unknown[]) => logger.fatal?.(message, ...params),
  };
}

type PinoLevel = 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal';

/**
 * Nest's logger calls as pino lines, for what Nest logs before the application's own logger is in
 * place: a start that fails (a database refusing the password, say) would otherwise print Nest's
 * coloured text, stack traces over many lines, among Herald's JSON. Not nestjs-pino's `Logger`: built
 * outside its module it takes a process-wide root logger, and tests run apps with loggers of their own.
 */
export function pinoLoggerService(logger: PinoLogger): LoggerService {
  const write =
    (level: PinoLevel) =>
    (message: unknown, ...params: unknown[]): void => {
      // Nest passes the context last, and an error's stack before it.
      const context = typeof params.at(-1) === 'string' ? (params.at(-1) as string) : undefined;
      const stack = level === 'error' && params.length > 1 ? params[0] : undefined;
      if (message instanceof Error) logger[level]({ context, err: message }, message.message);
      else logger[level]({ context, ...(typeof stack === 'string' ? { stack } : {}) }, String(message));
    };
  return {
    log: write('info'),
    error: write('error'),
    warn: write('warn'),
    debug: write('debug'),
    verbose: write('trace'),
    fatal: write('fatal'),
  };
}
