/** Why the embedded Postgres could not be started. */
export const EmbeddedPostgresErrorCode = {
  /** Another, still running Herald owns the cluster in this data directory. */
  DataDirInUse: 'data_dir_in_use',
  /** Under root, the `postgres` user cannot reach the binaries or the data directory. */
  NotAccessible: 'not_accessible',
  /** Postgres exited during start-up; the message carries its log. */
  StartFailed: 'start_failed',
} as const;

export type EmbeddedPostgresErrorCode =
  (typeof EmbeddedPostgresErrorCode)[keyof typeof EmbeddedPostgresErrorCode];

/** A start-up failure of the embedded Postgres that the operator has to act on; main.ts prints it and exits 1. */
export class EmbeddedPostgresError extends Error {
  constructor(
    readonly code: EmbeddedPostgresErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EmbeddedPostgresError';
  }
}
