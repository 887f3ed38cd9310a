import { EMBEDDED_STOP_MS } from './database/embedded-postgres.js';
import { SHUTDOWN_GRACE_MS } from './endpoints/deliveries/delivery-worker.service.js';
import { STREAM_STOP_TIMEOUT_MS } from './sources/stream-supervisor.service.js';

/** For the database writes around the bounded steps: outcomes, released leases, the event writer's last batch. */
const MARGIN_MS = 5_000;

/**
 * How long a graceful shutdown may run before main.ts gives up and exits 1. Its bounded steps run one
 * after another (running webhook attempts, stream sources stopping, the embedded Postgres stopping or
 * being killed), and each may use its whole limit without being cut short. A container's stop timeout
 * must be longer (docker/).
 */
export const SHUTDOWN_DEADLINE_MS = SHUTDOWN_GRACE_MS + STREAM_STOP_TIMEOUT_MS + EMBEDDED_STOP_MS + MARGIN_MS;
