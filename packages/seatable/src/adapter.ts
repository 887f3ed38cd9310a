import { AdapterError, type ProviderAdapter } from '@herald/events';
import { BaseTokenCache } from './base-token-cache.js';
import {
  parseSeatableConfig,
  redactSeatableConfig,
  serverAccessOf,
  type SeatableStreamConfig,
  type SeatableWebhookConfig,
} from './config.js';
import { SeatableRealtimeStream } from './realtime-stream.js';
import { parseToastInput, sendToast, TOAST_INPUT_SCHEMA } from './toast-sender.js';
import { parseSeatableWebhook } from './webhook-parser.js';

const toastTokens = new BaseTokenCache();

/** The gateway's entry point for SeaTable sources (configs arrive already validated by `parseConfig`). */
export const seatableAdapter: ProviderAdapter = {
  provider: 'seatable',
  modes: ['webhook', 'stream'],
  webhookContentTypes: ['application/json'],
  // The socket has no replay: versions reveal a gap (herald.source.gap) but cannot fill it.
  disconnectMayLoseEvents: true,
  parseConfig: parseSeatableConfig,
  redactConfig: (_mode, config) => redactSeatableConfig(config),
  // The webhook mode's toasts and the stream alike send the API token to the server.
  secretsSentTo: () => [{ field: 'serverUrl', secrets: ['apiToken'] }],
  parseWebhook: (request, config) => parseSeatableWebhook(request, config as SeatableWebhookConfig),
  createStream: (config, context) =>
    new SeatableRealtimeStream(config as unknown as SeatableStreamConfig, context),
  actions: {
    async toasts(config, input, context) {
      const access = serverAccessOf(config);
      if (!access) {
        throw new AdapterError('invalid_config', 'toasts need serverUrl and apiToken in the source config', {
          details: ['config.serverUrl and config.apiToken are required to send toasts'],
        });
      }
      return sendToast(access, parseToastInput(input), toastTokens, context.logger);
    },
  },
  actionDocs: {
    toasts: {
      summary:
        'SeaTable: shows a toast in one user’s web UI (the source needs serverUrl and apiToken); answers {delivered, url, status}',
      input: TOAST_INPUT_SCHEMA,
    },
  },
};
