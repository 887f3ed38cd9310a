import { maskSecret, type ConfigCheck, type FieldError, type SourceMode } from '@herald/events';

/** Webhook source: Jellyfish/Fishjam POSTs notifications to the source's ingest URL. */
export interface WebhookSourceConfig {
  /** Fishjam Cloud's webhook secret; when set, every request must carry a valid `x-fishjam-signature-256`. */
  signingSecret?: string;
}

/** Stream source: Herald connects to the server websocket and subscribes. */
export interface StreamSourceConfig {
  /** Base URL of the server (http, https, ws or wss), e.g. `http://jellyfish:5002`. */
  serverUrl: string;
  /** The server API token (Fishjam Cloud: the management token). */
  serverApiToken: string;
  /** Also subscribe to the once-a-second metrics reports (self-hosted servers only). */
  metrics: boolean;
}

const SERVER_SOCKET_PATH = '/socket/server/websocket';
const SERVER_URL_PROTOCOLS = new Map([
  ['http:', 'ws:'],
  ['https:', 'wss:'],
  ['ws:', 'ws:'],
  ['wss:', 'wss:'],
]);

export function parseConfig(mode: SourceMode, input: unknown): ConfigCheck {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ message: 'config: must be an object' }] };
  }
  const fields = input as Record<string, unknown>;
  return mode === 'webhook' ? parseWebhookConfig(fields) : parseStreamConfig(fields);
}

export function redactConfig(mode: SourceMode, config: Record<string, unknown>): Record<string, unknown> {
  const secretField = mode === 'webhook' ? 'signingSecret' : 'serverApiToken';
  const secret = config[secretField];
  return typeof secret === 'string' ? { ...config, [secretField]: maskSecret(secret) } : { ...config };
}

/** `<serverUrl>/socket/server/websocket` with http(s) turned into ws(s); a base path (Fishjam Cloud) is kept. */
export function serverSocketUrl(serverUrl: string): string {
  const url = new URL(serverUrl);
  url.protocol = SERVER_URL_PROTOCOLS.get(url.protocol) ?? url.protocol;
  url.pathname = url.pathname.replace(/\/+$/, '') + SERVER_SOCKET_PATH;
  return url.toString();
}

/**
 * One spelling per server (host in lower case, no trailing slash): a source's token goes with its
 * server, and `http://jellyfish:5002/` read as a move from `http://jellyfish:5002` asked for it again.
 */
function normalizedServerUrl(serverUrl: string): string {
  const url = new URL(serverUrl);
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url.toString().replace(/\/$/, '');
}

function parseWebhookConfig(fields: Record<string, unknown>): ConfigCheck {
  const errors = unknownFieldErrors(fields, ['signingSecret']);
  const { signingSecret } = fields;
  if (signingSecret !== undefined && !isNonEmptyString(signingSecret)) {
    errors.push({ field: 'signingSecret', message: 'signingSecret: must be a non-empty string when given' });
  }
  if (errors.length > 0) return { ok: false, errors };
  const config: WebhookSourceConfig =
    signingSecret === undefined ? {} : { signingSecret: signingSecret as string };
  return { ok: true, config: { ...config } };
}

function parseStreamConfig(fields: Record<string, unknown>): ConfigCheck {
  const errors = unknownFieldErrors(fields, ['serverUrl', 'serverApiToken', 'metrics']);
  const { serverUrl, serverApiToken, metrics = false } = fields;
  if (!isNonEmptyString(serverUrl)) {
    errors.push({
      field: 'serverUrl',
      message: 'serverUrl: required, a string such as "http://jellyfish:5002"',
    });
  } else if (!isServerUrl(serverUrl)) {
    errors.push({
      field: 'serverUrl',
      message:
        'serverUrl: must be an absolute http, https, ws or wss URL without credentials, query or fragment',
    });
  }
  if (!isNonEmptyString(serverApiToken)) {
    errors.push({ field: 'serverApiToken', message: 'serverApiToken: required, a non-empty string' });
  }
  if (typeof metrics !== 'boolean') {
    errors.push({ field: 'metrics', message: 'metrics: must be a boolean when given' });
  }
  if (errors.length > 0) return { ok: false, errors };
  const config: StreamSourceConfig = {
    serverUrl: normalizedServerUrl(serverUrl as string),
    serverApiToken: serverApiToken as string,
    metrics: metrics as boolean,
  };
  return { ok: true, config: { ...config } };
}

function unknownFieldErrors(fields: Record<string, unknown>, known: readonly string[]): FieldError[] {
  return Object.keys(fields)
    .filter((name) => !known.includes(name))
    .map((name) => ({ field: name, message: `${name}: unknown field (allowed: ${known.join(', ')})` }));
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0;
}

function isServerUrl(value: string): boolean {
  try {
    const url = new URL(value);
    // Credentials in the URL would be shown unmasked with the source; the API token is the credential.
    return (
      SERVER_URL_PROTOCOLS.has(url.protocol) &&
      url.search === '' &&
      url.hash === '' &&
      url.username === '' &&
      url.password === ''
    );
  } catch {
    return false;
  }
}
