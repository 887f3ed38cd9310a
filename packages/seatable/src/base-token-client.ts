import type { SeatableServerAccess } from './config.js';
import { isRecord } from './op-types.js';

/** A base token ("access token") for one base, from the API token exchange. */
export interface BaseToken {
  accessToken: string;
  /** Exactly as the server sent it: `join-room` compares it with the JWT's uuid as a plain string. */
  dtableUuid: string;
  /** Classic dtable-server URL (for REST calls that do not go through the api-gateway). */
  dtableServer: string | null;
  /** SeaTable ≥ 5.x: REST calls go through `{server}/api-gateway/`. */
  useApiGateway: boolean;
  /** Epoch ms: the JWT's `exp`, or 3 days after issue when the token cannot be decoded. */
  expiresAt: number;
}

export const BASE_TOKEN_PATH = '/api/v2.1/dtable/app-access-token/';
const DOCUMENTED_LIFETIME_MS = 3 * 24 * 60 * 60 * 1000;
const REQUEST_TIMEOUT_MS = 15_000;

export class BaseTokenError extends Error {
  /** The start of the answer's body: for logs only (see `seatableReason`). */
  readonly bodyExcerpt: string | undefined;
  /** What SeaTable said went wrong, when its answer says it the way SeaTable does (see `seatableReason`). */
  readonly reason: string | undefined;

  constructor(
    message: string,
    /** The HTTP status when SeaTable answered; absent when it could not be reached. */
    readonly status?: number,
    /** The answer's body, when SeaTable answered. */
    body?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BaseTokenError';
    this.bodyExcerpt = body === undefined ? undefined : excerpt(body);
    this.reason = body === undefined ? undefined : seatableReason(body);
  }

  /** SeaTable rejected the API token itself: retrying cannot help. */
  get isAuthRefusal(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

/** Exchanges an API token for a base token (`GET /api/v2.1/dtable/app-access-token/`). */
export async function fetchBaseToken(
  access: SeatableServerAccess,
  options: { now: number; signal?: AbortSignal },
): Promise<BaseToken> {
  const url = access.serverUrl + BASE_TOKEN_PATH;
  let response: Response;
  try {
    response = await seatableFetch(
      url,
      // `Token` is what every SDK sends; `Bearer` only works since SeaTable 4.0.
      { headers: { authorization: `Token ${access.apiToken}`, accept: 'application/json' } },
      options.signal,
    );
  } catch (error) {
    throw new BaseTokenError(`SeaTable token exchange failed: ${describe(error)}`, undefined, undefined, {
      cause: error,
    });
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) {
    throw new BaseTokenError(
      `SeaTable refused the API token exchange with ${response.status}${redirectNotFollowed(response)}`,
      response.status,
      text,
    );
  }
  return parseTokenResponse(text, response.status, options.now);
}

function parseTokenResponse(text: string, status: number, now: number): BaseToken {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!isRecord(body)) {
    throw new BaseTokenError(
      'SeaTable token exchange answered with something other than a JSON object',
      status,
      text,
    );
  }
  const { access_token: accessToken, dtable_uuid: dtableUuid, dtable_server: dtableServer } = body;
  if (typeof accessToken !== 'string' || typeof dtableUuid !== 'string') {
    throw new BaseTokenError('SeaTable token response lacks access_token or dtable_uuid', status, text);
  }
  return {
    accessToken,
    dtableUuid,
    dtableServer: typeof dtableServer === 'string' ? dtableServer : null,
    useApiGateway: body.use_api_gateway === true,
    expiresAt: jwtExpiry(accessToken) ?? now + DOCUMENTED_LIFETIME_MS,
  };
}

/** The `exp` claim (epoch ms) of a JWT, read without verifying it (we are not its audience). */
function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every request to a SeaTable server: bounded in time, and never following a redirect. `serverUrl` is
 * whatever an admin typed, and a redirect would send the API token, and Herald's requests, wherever the
 * answering server points (see `redirectNotFollowed`).
 */
export function seatableFetch(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return fetch(url, {
    ...init,
    redirect: 'manual',
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
}

/** What an error message adds for a redirect `seatableFetch` did not follow ('' for any other answer). */
export function redirectNotFollowed(response: Response): string {
  if (response.status < 300 || response.status >= 400) return '';
  const location = response.headers.get('location');
  return ` (a redirect${location ? ` to ${excerpt(location)}` : ''}, not followed: set serverUrl to where SeaTable answers)`;
}

/**
 * The message of a SeaTable error answer (`{"error_msg": …}` or `{"detail": …}`), or undefined. Only
 * that is repeated in API errors, never a body as it came: the server URL may point at any service
 * in the network, and Herald's API must not read its pages back to whoever can set the URL.
 */
export function seatableReason(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const reason = parsed.error_msg ?? parsed.detail;
  return typeof reason === 'string' ? excerpt(reason) : undefined;
}

export function excerpt(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return error.message + cause;
}
