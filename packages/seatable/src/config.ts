import { maskSecret, type ConfigCheck, type FieldError, type SourceMode } from '@herald/events';

export const DEFAULT_SOCKET_PATH = '/api-gateway/socket.io';

/** SeaTable's REST access for toasts (and, in stream mode, the socket). */
export interface SeatableServerAccess {
  /** The SeaTable origin plus any path prefix, without a trailing slash. */
  serverUrl: string;
  apiToken: string;
}

export interface SeatableWebhookConfig {
  /** The webhook's secret; when set, `X-SeaTable-Signature` is required and checked. */
  secret?: string;
  /** Optional: lets operators send toasts through a webhook source. Both or neither. */
  serverUrl?: string;
  apiToken?: string;
}

export interface SeatableStreamConfig extends SeatableServerAccess {
  socketPath: string;
}

const WEBHOOK_FIELDS = ['secret', 'serverUrl', 'apiToken'] as const;
const STREAM_FIELDS = ['serverUrl', 'apiToken', 'socketPath'] as const;
const SECRET_FIELDS = ['secret', 'apiToken'] as const;

type Fields = Record<string, unknown>;

export function parseSeatableConfig(mode: SourceMode, input: unknown): ConfigCheck {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ message: 'config must be an object' }] };
  }
  const fields = input as Fields;
  const known: readonly string[] = mode === 'webhook' ? WEBHOOK_FIELDS : STREAM_FIELDS;
  const errors = Object.keys(fields)
    .filter((key) => !known.includes(key))
    .map((key) => ({
      field: key,
      message: `config.${key} is not a ${mode} config field (expected ${known.join(', ')})`,
    }));
  const result = mode === 'webhook' ? checkWebhook(fields, errors) : checkStream(fields, errors);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: result };
}

function checkWebhook(fields: Fields, errors: FieldError[]): Fields {
  const config: Fields = {};
  // Kept as given, spaces included: SeaTable signs with the secret exactly as it stores it.
  const secret = optionalString(fields, 'secret', errors, false);
  if (secret !== undefined) config.secret = secret;
  const hasServer = fields.serverUrl !== undefined;
  const hasToken = fields.apiToken !== undefined;
  if (hasServer !== hasToken) {
    errors.push({
      field: hasServer ? 'apiToken' : 'serverUrl',
      message: 'config.serverUrl and config.apiToken go together (both are needed to send toasts)',
    });
  } else if (hasServer) {
    Object.assign(config, checkServerAccess(fields, errors));
  }
  return config;
}

function checkStream(fields: Fields, errors: FieldError[]): Fields {
  const config: Fields = { ...checkServerAccess(fields, errors) };
  const socketPath = optionalString(fields, 'socketPath', errors) ?? DEFAULT_SOCKET_PATH;
  if (!socketPath.startsWith('/')) {
    errors.push({ field: 'socketPath', message: 'config.socketPath must start with "/"' });
  }
  config.socketPath = socketPath.replace(/\/+$/, '');
  return config;
}

/** What an HTTP header value can carry as it is: the token goes out as `Authorization: Token <it>`. */
const HEADER_SAFE = /^[\x21-\x7e]+$/;

function checkServerAccess(fields: Fields, errors: FieldError[]): SeatableServerAccess {
  const apiToken = requiredString(fields, 'apiToken', errors);
  if (apiToken && !HEADER_SAFE.test(apiToken)) {
    errors.push({
      field: 'apiToken',
      message: 'config.apiToken must be printable ASCII without spaces (it is sent in an HTTP header)',
    });
  }
  const serverUrl = requiredString(fields, 'serverUrl', errors);
  let normalizedUrl = serverUrl;
  try {
    const url = new URL(serverUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      errors.push({ field: 'serverUrl', message: 'config.serverUrl must be an http(s) URL' });
    } else if (url.search || url.hash || url.username) {
      errors.push({
        field: 'serverUrl',
        message: 'config.serverUrl must not have credentials, a query or a fragment',
      });
    }
    normalizedUrl = `${url.origin}${url.pathname}`.replace(/\/+$/, '');
  } catch {
    if (serverUrl) errors.push({ field: 'serverUrl', message: 'config.serverUrl is not a valid URL' });
  }
  return { serverUrl: normalizedUrl, apiToken };
}

function requiredString(fields: Fields, name: string, errors: FieldError[]): string {
  const value = optionalString(fields, name, errors);
  if (value === undefined) {
    if (fields[name] === undefined) errors.push({ field: name, message: `config.${name} is required` });
    return '';
  }
  return value;
}

function optionalString(fields: Fields, name: string, errors: FieldError[], trim = true): string | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    errors.push({ field: name, message: `config.${name} must be a non-empty string` });
    return undefined;
  }
  return trim ? value.trim() : value;
}

export function redactSeatableConfig(config: Fields): Fields {
  const redacted = { ...config };
  for (const field of SECRET_FIELDS) {
    const value = redacted[field];
    if (typeof value === 'string') redacted[field] = maskSecret(value);
  }
  return redacted;
}

/** The server access of an already validated config, when it has one. */
export function serverAccessOf(config: Fields): SeatableServerAccess | undefined {
  const { serverUrl, apiToken } = config;
  return typeof serverUrl === 'string' && typeof apiToken === 'string' ? { serverUrl, apiToken } : undefined;
}
