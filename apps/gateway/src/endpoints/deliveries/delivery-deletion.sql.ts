// Without Nest or TypeORM imports, so retention's statements (and the benchmark, which runs them) can
// build on it.

/**
 * Two CTEs that delete the deliveries `where` selects (`d` is the deliveries row) and their attempts:
 * no foreign key cascades (see the migration DropDeliveryForeignKeys). `name` lists the deleted
 * deliveries' ids.
 */
export function deleteDeliveries(name: string, where: string): string {
  return `${name} AS (DELETE FROM deliveries d WHERE ${where} RETURNING d.id),
  ${name}_attempts AS (DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM ${name}))`;
}
