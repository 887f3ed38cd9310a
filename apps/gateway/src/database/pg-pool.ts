import type { DataSource } from 'typeorm';

export interface PgStatement {
  name?: string;
  text: string;
  values?: unknown[];
}

/** A node-postgres client checked out of the pool. */
export interface PgClient {
  query<Row>(statement: PgStatement): Promise<{ rows: Row[] }>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Back to the pool; with an error, the connection is closed instead. */
  release(error?: Error): void;
}

interface PgPool {
  query<Row>(statement: PgStatement): Promise<{ rows: Row[] }>;
  connect(): Promise<PgClient>;
}

/**
 * TypeORM's node-postgres pool, for the few hot paths that need what TypeORM's query runner does not
 * offer: statements prepared by name, and a connection held with its own session settings.
 */
export const pgPool = (dataSource: DataSource): PgPool =>
  (dataSource.driver as unknown as { master: PgPool }).master;

/**
 * Runs a statement prepared by name on whichever pool connection serves it (each prepares it once), so
 * Postgres can reuse its plan instead of planning every call. Postgres still plans a call afresh when
 * the generic plan looks dearer than a custom one. A name must always carry the same text.
 */
export async function preparedQuery<Row>(
  dataSource: DataSource,
  name: string,
  text: string,
  values: unknown[],
): Promise<Row[]> {
  return (await pgPool(dataSource).query<Row>({ name, text, values })).rows;
}

/**
 * One pool connection held by a hot path, whose session always runs the generic plan of the statements
 * it prepares by name. Postgres would otherwise plan such a statement afresh on every call whenever the
 * generic plan's guesses (ten rows per array, a tenth of a table under a LIMIT it cannot see) look
 * dearer than a custom plan, and that planning can cost more than the statement. Held rather than
 * returned: the session setting must never reach other users of the pool, so a dropped connection is
 * closed, and the next `get` takes a fresh one.
 */
export class HeldConnection {
  private connection: PgClient | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly onLost: (error: Error) => void,
  ) {}

  private async get(): Promise<PgClient> {
    if (this.connection) return this.connection;
    const client = await pgPool(this.dataSource).connect();
    // A held connection has no pool to remove it when it breaks, as a Postgres restart breaks every
    // connection: dropped here, so the next use connects afresh instead of failing on the dead one.
    client.on('error', (error) => {
      if (this.connection === client) this.drop();
      this.onLost(error);
    });
    try {
      await client.query({ text: 'SET plan_cache_mode = force_generic_plan' });
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
    this.connection = client;
    return client;
  }

  /** Runs `statement` (prepared by name when it has one); a failure drops the connection. */
  async query<Row>(statement: PgStatement): Promise<Row[]> {
    const connection = await this.get();
    try {
      return (await connection.query<Row>(statement)).rows;
    } catch (error) {
      this.drop();
      throw error;
    }
  }

  /** Closes the held connection, which may be broken or mid-way through anything. */
  drop(): void {
    const connection = this.connection;
    this.connection = undefined;
    connection?.release(new Error('held connection dropped'));
  }
}
