import type { ProviderAdapter, StreamContext } from '@herald/events';
import { parseConfig, redactConfig, type StreamSourceConfig, type WebhookSourceConfig } from './config.js';
import {
  DEFAULT_SERVER_SOCKET_TIMING,
  ServerSocketStream,
  type ServerSocketTiming,
} from './server-socket-stream.js';
import { parseJellyfishWebhook, WEBHOOK_CONTENT_TYPES } from './webhook-parser.js';

export interface JellyfishAdapterOptions {
  /** Overrides for the server socket's timeouts and backoff (tests use milliseconds). */
  streamTiming?: Partial<ServerSocketTiming>;
}

/**
 * The gateway hands parseWebhook/createStream the config that parseConfig returned, so the casts below only
 * name what parseConfig already checked.
 */
export function createJellyfishAdapter(options: JellyfishAdapterOptions = {}): ProviderAdapter {
  const timing: ServerSocketTiming = { ...DEFAULT_SERVER_SOCKET_TIMING, ...options.streamTiming };
  return {
    provider: 'jellyfish',
    modes: ['webhook', 'stream'],
    webhookContentTypes: WEBHOOK_CONTENT_TYPES,
    // The server keeps no buffer: whatever it broadcast while we were disconnected is gone.
    disconnectMayLoseEvents: true,
    parseConfig,
    redactConfig,
    secretsSentTo: (mode) => (mode === 'stream' ? [{ field: 'serverUrl', secrets: ['serverApiToken'] }] : []),
    parseWebhook: (request, config) => parseJellyfishWebhook(request, config as WebhookSourceConfig),
    createStream: (config, context: StreamContext) =>
      new ServerSocketStream(config as unknown as StreamSourceConfig, context, timing),
  };
}

export const jellyfishAdapter: ProviderAdapter = createJellyfishAdapter();
