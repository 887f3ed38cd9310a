// Retention's statements, in a file without Nest or TypeORM imports so the benchmark
// (bench/sections/retention.mjs) runs exactly what the gateway runs.

import { deleteDeliveries } from '../endpoints/deliveries/delivery-deletion.sql.js';

/** Events removed per retention transaction. */
export const PURGE_BATCH_SIZE = 5_000;

/** Only one instance purges at a time: `$1` is `AdvisoryLock.retention`. */
export const TRY_RETENTION_LOCK = 'SELECT pg_try_advisory_xact_lock($1) AS locked';

/**
 * Up to `$2` events received before `$1`, oldest first, with their deliveries and those deliveries'
 * attempts (no foreign keys cascade: see the migration DropDeliveryForeignKeys). Returns the seqs removed.
 */
export const DELETE_EXPIRED_BATCH = `WITH expired AS (
    DELETE FROM events WHERE seq IN (
      SELECT seq FROM events WHERE received_at < $1 ORDER BY received_at LIMIT $2
    ) RETURNING seq
  ), ${deleteDeliveries('expired_deliveries', 'd.event_seq = ANY(ARRAY(SELECT seq FROM expired))')}
  SELECT seq FROM expired`;

/** Raises the expiry watermark to `$1` (the highest seq removed): cursors below it get `cursor_expired`. */
export const RAISE_PURGED_THROUGH = `UPDATE event_log_retention
  SET purged_through_seq = GREATEST(purged_through_seq, $1::bigint), last_run_at = now()
  WHERE id = 1`;
