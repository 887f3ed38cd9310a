import { beforeEach, describe, expect, it } from '@jest/globals';
import pino, { type Logger } from 'pino';
import { databaseOutageLogHook } from '../src/common/database-outage-log-hook.js';

/** What pg raises when the server is gone. */
function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}

describe(databaseOutageLogHook.name, () => {
  let now: number;
  let lines: Array<Record<string, unknown>>;
  let root: Logger;

  beforeEach(() => {
    now = 1_000_000;
    lines = [];
    root = pino(
      { hooks: { logMethod: databaseOutageLogHook({ now: () => now }) } },
      { write: (line: string) => void lines.push(JSON.parse(line)) },
    );
  });

  it('writes one line per component and message per minute while the database is away, then the count', () => {
    // Nest's loggers are children carrying their context, as nestjs-pino builds them.
    const claimer = root.child({});
    for (let i = 0; i < 30; i++) {
      claimer.warn({ context: 'DeliveryWorker', err: connectionRefused() }, 'delivery claim failed');
      claimer.warn({ context: 'DeliveryWorker', err: connectionRefused() }, 'delivery reaper failed');
      claimer.warn({ context: 'EventLogTail', err: connectionRefused() }, 'delivery claim failed');
      now += 1_000;
    }
    expect(lines.map((line) => [line.context, line.msg])).toEqual([
      ['DeliveryWorker', 'delivery claim failed'],
      ['DeliveryWorker', 'delivery reaper failed'],
      ['EventLogTail', 'delivery claim failed'],
    ]);
    expect(lines[0]).toMatchObject({ level: 40, err: { message: 'connect ECONNREFUSED 127.0.0.1:5432' } });
    expect(lines[0]).not.toHaveProperty('suppressed');

    now += 30_000;
    claimer.warn({ context: 'DeliveryWorker', err: connectionRefused() }, 'delivery claim failed');
    expect(lines[3]).toMatchObject({
      context: 'DeliveryWorker',
      msg: 'delivery claim failed',
      suppressed: 29,
    });
  });

  it('writes a database outage logged as an error as a warning, any other error as an error, and a fatal line as it is', () => {
    root.error({ context: 'SubscriptionHub', err: connectionRefused() }, 'subscribe failed');
    root.error({ context: 'SubscriptionHub', err: new Error('a bug') }, 'subscribe failed');
    // Herald exits after it: the line an alert must see, however often it comes.
    root.fatal({ err: connectionRefused() }, 'Herald could not start');
    root.fatal({ err: connectionRefused() }, 'Herald could not start');
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [40, 'subscribe failed'],
      [50, 'subscribe failed'],
      [60, 'Herald could not start'],
      [60, 'Herald could not start'],
    ]);
  });

  it('passes every other line through, the same error from another cause included', () => {
    const failure = Object.assign(new Error('duplicate key value'), { code: '23505' });
    for (let i = 0; i < 5; i++) {
      root.warn({ err: failure }, 'delivery claim failed');
      root.info({ sourceId: 's1' }, 'stream source connected');
      root.warn('no fields at all');
      // A database error logged without a message of its own is not throttled: there is no key to count it under.
      root.warn({ err: connectionRefused() });
    }
    expect(lines).toHaveLength(20);
  });
});
