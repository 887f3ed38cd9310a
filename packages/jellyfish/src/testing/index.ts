export {
  FakeJellyfishServer,
  type FakeJellyfishServerCounters,
  type FakeJellyfishServerOptions,
} from './fake-jellyfish-server.js';
export * from './notifications.js';
