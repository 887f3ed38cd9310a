import { Backoff, type BackoffOptions } from '@herald/events';
import type { Logger } from 'pino';
import {
  type EmbeddedDatabase,
  type EmbeddedPostgresOptions,
  startEmbeddedPostgres,
} from './embedded-postgres.js';
import { EmbeddedPostgresError, EmbeddedPostgresErrorCode } from './embedded-postgres-error.js';

export interface RestartPolicy {
  /** Starts tried after an unexpected exit before giving up. */
  attempts: number;
  backoff: BackoffOptions;
}

/**
 * A postmaster killed outright starts again within seconds (recovery replays the WAL since the last
 * checkpoint). Four tries spread over 11-22 s also outlast the backends it orphaned, which hold its shared
 * memory and make a new postmaster refuse to start until they have exited, and a port held briefly; a
 * start still failing after that needs the process supervisor or a person.
 */
export const RESTART_POLICY: RestartPolicy = { attempts: 4, backoff: { initialMs: 2_000, maxMs: 8_000 } };

export interface KeeperOptions {
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /**
   * True from the moment Herald's own shutdown begins, well before it stops the database: the postmaster
   * is not started again if it dies meanwhile.
   */
  shuttingDown: () => boolean;
  /** Starts kept failing: the database stays down, so this Herald is of no use any more. */
  onGiveUp: (error: unknown) => void;
  policy?: RestartPolicy;
}

/**
 * The embedded Postgres, started again when its postmaster exits while Herald runs (the OOM killer, a
 * crash, a stray `kill -9`); otherwise ingest would answer 503 and /readyz stay unready until someone
 * restarted Herald. Each start clears what the dead postmaster left (`clearStaleServer`) and keeps the
 * data directory and the port, so the pool, the listener and the held connections find the new server
 * through their own reconnects.
 */
export class EmbeddedPostgresKeeper {
  private current: EmbeddedDatabase;
  private restarting: Promise<void> = Promise.resolve();
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly policy: RestartPolicy;

  constructor(
    first: EmbeddedDatabase,
    private readonly start: () => Promise<EmbeddedDatabase>,
    private readonly options: KeeperOptions,
  ) {
    this.current = first;
    this.policy = options.policy ?? RESTART_POLICY;
    this.watch(first);
  }

  /** The same for every start: the port is kept. */
  get url(): string {
    return this.current.url;
  }

  /** See `EmbeddedDatabase.abandon`; no restart follows. */
  abandon(): void {
    this.stopped = true;
    this.current.abandon();
  }

  /** Stops the database for good; a restart that is due is dropped, one under way is waited for. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.restarting;
    await this.current.stop();
  }

  private get ending(): boolean {
    return this.stopped || this.options.shuttingDown();
  }

  private watch(database: EmbeddedDatabase): void {
    void database.exited.then((exit) => {
      if (this.ending) return;
      // `pid` would clash with the process's own, which every line carries.
      const { pid, code, signal } = exit;
      this.options.logger.error(
        { postmasterPid: pid, code, signal },
        'embedded Postgres exited unexpectedly; restarting it',
      );
      this.restarting = this.restart();
    });
  }

  private async restart(): Promise<void> {
    const backoff = new Backoff(this.policy.backoff);
    let failure: unknown;
    while (backoff.attempts < this.policy.attempts) {
      await this.pause(backoff.next());
      if (this.ending) return;
      const attempt = { attempt: backoff.attempts, attempts: this.policy.attempts };
      try {
        this.current = await this.start();
      } catch (error) {
        failure = error;
        this.options.logger.warn({ err: error, ...attempt }, 'embedded Postgres did not restart');
        // Another Herald took the data directory while this one's postmaster was down: retrying cannot
        // succeed while it runs, and stopping its postgres would pull the database from under it.
        if (error instanceof EmbeddedPostgresError && error.code === EmbeddedPostgresErrorCode.DataDirInUse) {
          break;
        }
        continue;
      }
      this.options.logger.info(attempt, 'embedded Postgres restarted');
      this.watch(this.current);
      return;
    }
    if (!this.ending) this.options.onGiveUp(failure);
  }

  /** A backoff delay that stop() cuts short. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Starts the embedded Postgres and keeps it running while Herald does. */
export async function startKeptEmbeddedPostgres(
  options: EmbeddedPostgresOptions & KeeperOptions,
): Promise<EmbeddedPostgresKeeper> {
  const first = await startEmbeddedPostgres(options);
  const port = Number(new URL(first.url).port);
  return new EmbeddedPostgresKeeper(first, () => startEmbeddedPostgres({ ...options, port }), options);
}
