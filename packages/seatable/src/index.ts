export { seatableAdapter } from './adapter.js';
export {
  DEFAULT_SOCKET_PATH,
  parseSeatableConfig,
  redactSeatableConfig,
  type SeatableServerAccess,
  type SeatableStreamConfig,
  type SeatableWebhookConfig,
} from './config.js';
export { computeSignature, isValidSignature, SIGNATURE_HEADER } from './signature.js';
export { parseSeatableWebhook } from './webhook-parser.js';
export { normalizeSocketOperation, type SocketOperation } from './op-normalizer.js';
export { normalizeNotification } from './notification-normalizer.js';
export { BASE_TOKEN_PATH, BaseTokenError, fetchBaseToken, type BaseToken } from './base-token-client.js';
export { SeatableRealtimeStream, type RealtimeStreamOptions } from './realtime-stream.js';
export { parseToastInput, sendToast } from './toast-sender.js';
export { BaseTokenCache } from './base-token-cache.js';
export type * from './types.js';
