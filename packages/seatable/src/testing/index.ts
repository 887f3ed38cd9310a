export {
  FakeSeatableServer,
  type FakeJoinFailure,
  type FakeRefusal,
  type FakeSeatableCounters,
  type FakeSeatableServerOptions,
  type RecordedToast,
} from './fake-seatable-server.js';
export { pythonJsonDumps } from './python-json.js';
export {
  buildSeatableWebhook,
  seatableWebhookOfText,
  type SeatableWebhookRequest,
} from './webhook-request.js';
