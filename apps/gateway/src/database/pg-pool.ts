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
