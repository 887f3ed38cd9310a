import type pg from 'pg';

/**
 * Asks the server to probe an idle client after 10 s, every 5 s, and to drop it after 3 unanswered probes.
 * Without it a client host that dies or is cut off keeps its session, and the session advisory lock that
 * makes it a stream source's leader, for the kernel's default of about 2 hours.
 */
const SERVER_KEEPALIVES = '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3';

/** Probes from this side too, so a listener or lock holder whose server is gone notices within ~20 s. */
const CLIENT_KEEPALIVE_DELAY_MS = 10_000;

/**
 * The node-postgres settings of every connection Herald opens. Parameters of the connection string
 * override the client's own settings, so Herald's are written into it: its own `application_name` (other
 * instances find each listener by it) and the keepalive `options` ahead of any the URL carries, whose
 * later `-c` settings still win.
 */
export function pgConnectionConfig(databaseUrl: string, applicationName: string): pg.ClientConfig {
  const queryStart = databaseUrl.indexOf('?');
  const base = queryStart < 0 ? databaseUrl : databaseUrl.slice(0, queryStart);
  const params = new URLSearchParams(queryStart < 0 ? '' : databaseUrl.slice(queryStart + 1));
  const ownOptions = params.get('options');
  params.set('options', ownOptions ? `${SERVER_KEEPALIVES} ${ownOptions}` : SERVER_KEEPALIVES);
  params.set('application_name', applicationName);
  return {
    connectionString: `${base}?${params.toString()}`,
    keepAlive: true,
    keepAliveInitialDelayMillis: CLIENT_KEEPALIVE_DELAY_MS,
  };
}
