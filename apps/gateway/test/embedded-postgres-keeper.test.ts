import { describe, expect, it, jest } from '@jest/globals';
import type { EmbeddedDatabase, PostmasterExit } from '../src/database/embedded-postgres.js';
import { EmbeddedPostgresError, EmbeddedPostgresErrorCode } from '../src/database/embedded-postgres-error.js';
import { EmbeddedPostgresKeeper, type KeeperOptions } from '../src/database/embedded-postgres-keeper.js';
import { eventually } from './support/http.js';

const DATABASE_URL = 'postgres://herald:herald@127.0.0.1:5433/herald';

/** A started database whose postmaster the test ends (`die`), as a crash or its stop() would. */
function fakeDatabase() {
  let die!: (exit: PostmasterExit) => void;
  const exited = new Promise<PostmasterExit>((resolve) => (die = resolve));
  const stop = jest.fn(async () => die({ pid: 1, code: 0, signal: null }));
  const abandon = jest.fn(() => undefined);
  const database: EmbeddedDatabase = { url: DATABASE_URL, exited, stop, abandon };
  return { database, stop, abandon, die: () => die({ pid: 1, code: null, signal: 'SIGKILL' }) };
}

function keeper(start: () => Promise<EmbeddedDatabase>, overrides: Partial<KeeperOptions> = {}) {
  const first = fakeDatabase();
  const logger = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
  const onGiveUp = jest.fn();
  const options: KeeperOptions = {
    logger,
    shuttingDown: () => false,
    onGiveUp,
    policy: { attempts: 3, backoff: { initialMs: 10, maxMs: 10 } },
    ...overrides,
  };
  const sut = new EmbeddedPostgresKeeper(first.database, start, options);
  return { sut, first, logger, onGiveUp };
}

describe(EmbeddedPostgresKeeper.name, () => {
  it('starts the database again when its postmaster exits, and stops the new one on stop()', async () => {
    const second = fakeDatabase();
    const start = jest.fn(async () => second.database);
    const { sut, first, logger } = keeper(start);

    first.die();
    await eventually(() => expect(start).toHaveBeenCalledTimes(1));
    expect(logger.error).toHaveBeenCalledWith(
      { postmasterPid: 1, code: null, signal: 'SIGKILL' },
      'embedded Postgres exited unexpectedly; restarting it',
    );
    await sut.stop();
    expect(second.stop).toHaveBeenCalledTimes(1);
    expect(start).toHaveBeenCalledTimes(1);
  });

  it('does not start it again once shutdown has begun', async () => {
    const start = jest.fn(async () => fakeDatabase().database);
    const { sut, first } = keeper(start, { shuttingDown: () => true });

    first.die();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await sut.stop();
    expect(start).not.toHaveBeenCalled();
    expect(first.stop).toHaveBeenCalledTimes(1);
  });

  it('drops a restart still waiting out its backoff when stopped', async () => {
    const start = jest.fn(async () => fakeDatabase().database);
    const { sut, first, onGiveUp } = keeper(start, {
      policy: { attempts: 3, backoff: { initialMs: 60_000, maxMs: 60_000 } },
    });

    first.die();
    await new Promise((resolve) => setImmediate(resolve));
    const stopping = Date.now();
    await sut.stop();
    expect(Date.now() - stopping).toBeLessThan(1_000);
    expect(start).not.toHaveBeenCalled();
    expect(onGiveUp).not.toHaveBeenCalled();
  });

  it('waits for a start under way when stopped, then stops what it started', async () => {
    const second = fakeDatabase();
    let started!: () => void;
    const start = jest.fn(
      () => new Promise<EmbeddedDatabase>((resolve) => (started = () => resolve(second.database))),
    );
    const { sut, first } = keeper(start);

    first.die();
    await eventually(() => expect(start).toHaveBeenCalledTimes(1));
    const stopped = sut.stop();
    started();
    await stopped;
    expect(second.stop).toHaveBeenCalledTimes(1);
  });

  /** A start that always fails with the same error. */
  function startsFailingWith(code: EmbeddedPostgresErrorCode, message: string) {
    const failure = new EmbeddedPostgresError(code, message);
    const start = jest.fn(async (): Promise<EmbeddedDatabase> => {
      throw failure;
    });
    return { failure, start };
  }

  it('gives up with the last failure once every attempt has failed', async () => {
    const { failure, start } = startsFailingWith(
      EmbeddedPostgresErrorCode.StartFailed,
      'Address already in use',
    );
    const { first, onGiveUp, logger } = keeper(start);

    first.die();
    await eventually(() => expect(onGiveUp).toHaveBeenCalledWith(failure));
    expect(start).toHaveBeenCalledTimes(3);
    expect(logger.warn).toHaveBeenCalledTimes(3);
    expect(logger.warn).toHaveBeenLastCalledWith(
      { err: failure, attempt: 3, attempts: 3 },
      'embedded Postgres did not restart',
    );
  });

  it('gives up at once when another Herald has taken the data directory', async () => {
    const { failure: taken, start } = startsFailingWith(
      EmbeddedPostgresErrorCode.DataDirInUse,
      'in use by Herald pid 42',
    );
    const { first, onGiveUp } = keeper(start);

    first.die();
    await eventually(() => expect(onGiveUp).toHaveBeenCalledWith(taken));
    expect(start).toHaveBeenCalledTimes(1);
  });

  it('watches the restarted database as it did the first', async () => {
    const second = fakeDatabase();
    const third = fakeDatabase();
    const start = jest.fn<() => Promise<EmbeddedDatabase>>();
    start.mockResolvedValueOnce(second.database).mockResolvedValueOnce(third.database);
    const { sut, first } = keeper(start);

    first.die();
    await eventually(() => expect(start).toHaveBeenCalledTimes(1));
    second.die();
    await eventually(() => expect(start).toHaveBeenCalledTimes(2));
    await sut.stop();
    expect(third.stop).toHaveBeenCalledTimes(1);
  });
});
