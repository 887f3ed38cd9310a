export {
  connect,
  HeraldClient,
  type HeraldClientOptions,
  type EventHandler,
  type Unsubscribe,
} from './herald-client.js';
export { HeraldClientError, type HeraldClientErrorCode } from './errors.js';
export { verifyWebhook } from './verify-webhook.js';
export type { EventFilter, HeraldEvent } from '@herald/events';
