// Without Nest or TypeORM imports, so retention's statements (and the benchmark, which runs them) can
// build on it.

/**
 * Two CTEs that delete the deliveries `where` selects (`d` is the deliveries row) and their attempts:
 * no foreign key cascades (see the migration DropDeliveryForeignKeys). `name` lists the deleted
 * deliveries' ids. The attempts are found by index from an array of those ids: as `IN (SELECT …)`,
 * the planner misjudged how many there were and chose a hash join over a scan of the whole attempts
 * table (539 of a 567 ms retention batch at 3.4 million attempts, against 32 ms by index).
 */
export function deleteDeliveries(name: string, where: string): string {
  return `${name} AS (DELETE FROM deliveries d WHERE ${where} RETURNING d.id),
  ${name}_attempts AS (DELETE FROM delivery_attempts WHERE delivery_id = ANY(ARRAY(SELECT id FROM ${name})))`;
}
