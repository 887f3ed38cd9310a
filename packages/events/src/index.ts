export * from './envelope.js';
export * from './event-types.js';
export * from './filter.js';
export * from './adapter.js';
export * from './clock.js';
export * from './backoff.js';
export * from './socket-protocol.js';
export * from './webhook-signature.js';
