export { createJellyfishAdapter, jellyfishAdapter, type JellyfishAdapterOptions } from './adapter.js';
export { serverSocketUrl, type StreamSourceConfig, type WebhookSourceConfig } from './config.js';
export type * from './event-data.js';
export { FISHJAM_SIGNATURE_HEADER } from './signature.js';
export { DEFAULT_SERVER_SOCKET_TIMING, type ServerSocketTiming } from './server-socket-stream.js';
export { WEBHOOK_CONTENT_TYPES } from './webhook-parser.js';
