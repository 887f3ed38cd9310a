import type { Clock } from '@herald/events';
import type { LoggerOptions } from 'pino';
import { isDatabaseUnavailable } from './errors/problem.js';
import { LogThrottle } from './log-throttle.js';

/** Long enough that a 10-second outage costs one line per retry loop, short enough to show it lasts. */
const WINDOW_MS = 60_000;

type LogMethodHook = NonNullable<NonNullable<LoggerOptions['hooks']>['logMethod']>;

/** pino's `error` level: lines from it up are faults of Herald's. */
const ERROR_LEVEL = 50;
/** pino's `fatal`: Herald exits after such a line, whatever the cause, and it is never throttled or lowered. */
const FATAL_LEVEL = 60;

/**
 * While the database is away, every component retrying against it (the event log reader, the delivery
 * claimer and reaper, the notification listener, the stream supervisor) logs each attempt: about 90
 * lines in 30 seconds, which bury the line that says why. This hook lets one line per message through
 * per window and counts the rest into the next (`suppressed`). Such a line logged as an error is written
 * as a warning: an outage is expected and each component waits it out, and an error line would page
 * someone for it. Fatal lines (a start that could not reach the database, after which Herald exits) and
 * all other lines pass untouched.
 */
export function databaseOutageLogHook(clock: Pick<Clock, 'now'>): LogMethodHook {
  const throttle = new LogThrottle(WINDOW_MS, clock, 1_000);
  return function logMethod(args, method, level) {
    const [fields, message] = args as unknown[];
    if (level >= FATAL_LEVEL || typeof message !== 'string' || !isFieldsWithUnavailableDatabase(fields)) {
      return method.apply(this, args);
    }
    if (level >= ERROR_LEVEL) return this.warn(...(args as Parameters<typeof this.warn>));
    const admitted = throttle.admit(`${String(fields.context ?? '')}\u0000${message}`);
    if (!admitted) return;
    const written = admitted.suppressed > 0 ? { ...fields, suppressed: admitted.suppressed } : fields;
    return method.apply(this, [written, ...args.slice(1)] as Parameters<LogMethodHook>[0]);
  };
}

function isFieldsWithUnavailableDatabase(
  fields: unknown,
): fields is { err: unknown; context?: unknown } & Record<string, unknown> {
  return (
    typeof fields === 'object' && fields !== null && isDatabaseUnavailable((fields as { err?: unknown }).err)
  );
}
