import type pg from 'pg';

/**
 * Asks the server to probe an idle client after 10 s, every 5 s, and to drop it after 3 unanswered
 * probes. Without it a client host that dies or is cut off keeps its session, and the session advisory
 * lock that makes it a stream source's leader, for the kernel's default of about 2 hours. Set once
 * connected rather than as a start-up `options` parameter, which connection poolers such as PgBouncer
 * refuse.
 */
const SERVER_KEEPALIVES =
  'SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3';

/** Probes from this side too, so a listener or lock holder whose server is gone notices within ~20 s. */
const CLIENT_KEEPALIVE_DELAY_MS = 10_000;

/**
 * The node-postgres settings of every connection Herald opens. Parameters of the connection string
 * override the client's own settings, so Herald's `application_name` is written into it (other
 * instances find each listener by it); everything else the URL carries is kept.
 */
export function pgConnectionConfig(databaseUrl: string, applicationName: string): pg.ClientConfig {
  const queryStart = databaseUrl.indexOf('?');
  const base = queryStart < 0 ? databaseUrl : databaseUrl.slice(0, queryStart);
  const params = new URLSearchParams(queryStart < 0 ? '' : databaseUrl.slice(queryStart + 1));
  params.set('application_name', applicationName);
  return {
    connectionString: `${base}?${params.toString()}`,
    keepAlive: true,
    keepAliveInitialDelayMillis: CLIENT_KEEPALIVE_DELAY_MS,
  };
}

/**
 * For the connections whose session matters to other instances (the listener, the stream leadership
 * lock): the server drops them within ~25 s of their host going away (see SERVER_KEEPALIVES).
 */
export async function askServerKeepalives(client: pg.Client): Promise<void> {
  await client.query(SERVER_KEEPALIVES);
}
