import { AdapterError } from '@herald/events';
import type { AdapterLogger, FieldError } from '@herald/events';
import {
  BaseTokenError,
  describe,
  excerpt,
  redirectNotFollowed,
  seatableReason,
  seatableFetch,
  type BaseToken,
} from './base-token-client.js';
import type { BaseTokenCache } from './base-token-cache.js';
import type { SeatableServerAccess } from './config.js';
import { isRecord } from './op-types.js';
import type { ToastInput, ToastResult, ToastType } from './types.js';

const TOAST_TYPES: readonly ToastType[] = ['success', 'warning', 'danger'];
const MAX_MESSAGE_LENGTH = 2_000;
/** A SeaTable user id: what `toUser` must be. */
const TO_USER = /^[^\s@]+@auth\.local$/;

/** The toast body `parseToastInput` takes, as JSON Schema for the OpenAPI document. */
export const TOAST_INPUT_SCHEMA = {
  type: 'object',
  required: ['toUser', 'message'],
  additionalProperties: false,
  properties: {
    toUser: {
      type: 'string',
      pattern: TO_USER.source,
      description: 'The SeaTable user id (…@auth.local), not an e-mail address or name',
    },
    message: { type: 'string', minLength: 1, maxLength: MAX_MESSAGE_LENGTH },
    type: { type: 'string', enum: TOAST_TYPES, default: 'success' },
  },
};

/** Validates `{toUser, message, type?}`; `type` defaults to `success` like the Python SDK. */
export function parseToastInput(input: unknown): ToastInput {
  if (!isRecord(input))
    throw invalidInput([{ message: 'the body must be an object {toUser, message, type}' }]);
  const issues: FieldError[] = [];
  const issue = (field: string, message: string) => issues.push({ field, message });
  const { toUser, message, type = 'success' } = input;
  if (typeof toUser !== 'string' || !TO_USER.test(toUser)) {
    issue(
      'toUser',
      'toUser must be a SeaTable user id ending in "@auth.local" (not an e-mail address or name)',
    );
  }
  if (typeof message !== 'string' || message.trim() === '')
    issue('message', 'message must be a non-empty string');
  else if (message.length > MAX_MESSAGE_LENGTH)
    issue('message', `message must be at most ${MAX_MESSAGE_LENGTH} characters`);
  if (!TOAST_TYPES.includes(type as ToastType))
    issue('type', `type must be one of ${TOAST_TYPES.join(', ')}`);
  const extra = Object.keys(input).filter((key) => !['toUser', 'message', 'type'].includes(key));
  for (const key of extra) issue(key, `${key} is not a toast field`);
  if (issues.length > 0) throw invalidInput(issues);
  return { toUser: toUser as string, message: message as string, type: type as ToastType };
}

/**
 * Shows a toast in the SeaTable web UI of one user. SeaTable ≥ 5 (`use_api_gateway`) takes it at the
 * api-gateway; older servers, or a gateway answering 404, at the classic dtable-server URL.
 */
export async function sendToast(
  access: SeatableServerAccess,
  input: ToastInput,
  tokens: BaseTokenCache,
  logger: AdapterLogger,
): Promise<ToastResult> {
  const token = await tokens.get(access).catch((error: unknown) => {
    if (error instanceof BaseTokenError && error.bodyExcerpt !== undefined) {
      logger.warn(
        { status: error.status, body: error.bodyExcerpt },
        'SeaTable refused the base token exchange',
      );
    }
    throw upstreamError(error);
  });
  const body = JSON.stringify({
    to_user: input.toUser,
    toast_type: input.type,
    detail: { msg: input.message },
  });
  const [preferred, ...fallbacks] = toastUrls(access, token);
  let url = preferred;
  let response = await post(url, token, body);
  for (const next of fallbacks) {
    // A 404 at the api-gateway URL means this server still takes toasts at the classic one.
    if (response.status !== 404) break;
    url = next;
    response = await post(url, token, body);
  }
  if (response.status === 401) tokens.forget(access);
  if (!response.ok) {
    logger.warn({ status: response.status, url, body: excerpt(response.text) }, 'SeaTable refused the toast');
    throw new AdapterError(
      'upstream_refused',
      `SeaTable refused the toast with ${response.status}${response.redirectNote}`,
      { details: [...refusal(response.status, seatableReason(response.text)), `url ${url}`] },
    );
  }
  return { delivered: true, url, status: response.status };
}

function toastUrls(access: SeatableServerAccess, token: BaseToken): [string, ...string[]] {
  const uuid = encodeURIComponent(token.dtableUuid);
  const dtableServer = (token.dtableServer ?? `${access.serverUrl}/dtable-server/`).replace(/\/*$/, '/');
  const classic = `${dtableServer}api/v1/dtables/${uuid}/ui-toasts/`;
  if (!token.useApiGateway) return [classic];
  return [`${access.serverUrl}/api-gateway/api/v2/dtables/${uuid}/ui-toasts/`, classic];
}

async function post(
  url: string,
  token: BaseToken,
  body: string,
): Promise<{ ok: boolean; status: number; text: string; redirectNote: string }> {
  try {
    const response = await seatableFetch(url, {
      method: 'POST',
      headers: { authorization: `Token ${token.accessToken}`, 'content-type': 'application/json' },
      body,
    });
    return {
      ok: response.ok,
      status: response.status,
      text: await response.text().catch(() => ''),
      redirectNote: redirectNotFollowed(response),
    };
  } catch (error) {
    throw new AdapterError('upstream_unreachable', `SeaTable could not be reached: ${describe(error)}`, {
      cause: error,
    });
  }
}

function upstreamError(error: unknown): AdapterError {
  if (error instanceof BaseTokenError && error.status !== undefined) {
    return new AdapterError('upstream_refused', error.message, {
      cause: error,
      details: refusal(error.status, error.reason),
    });
  }
  return new AdapterError('upstream_unreachable', `SeaTable could not be reached: ${describe(error)}`, {
    cause: error,
  });
}

/** What an API error repeats of a SeaTable refusal: its status and SeaTable's own message, never a body. */
function refusal(status: number, reason: string | undefined): string[] {
  return [`status ${status}`, ...(reason ? [`SeaTable: ${reason}`] : [])];
}

function invalidInput(details: FieldError[]): AdapterError {
  return new AdapterError('invalid_action_input', 'invalid toast', { details });
}
