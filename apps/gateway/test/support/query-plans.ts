/** A node of `EXPLAIN (ANALYZE, FORMAT JSON)`, with the fields the plan tests read. */
export interface PlanNode {
  'Node Type': string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Join Filter'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** Every node of a plan, the root first. */
export function* planNodes(plan: PlanNode): Generator<PlanNode> {
  yield plan;
  for (const child of plan.Plans ?? []) yield* planNodes(child);
}

/** Rows the plan read and threw away (filters, joins, index rechecks), over all their loops. */
export function rowsDiscarded(plan: PlanNode): number {
  let discarded = 0;
  for (const node of planNodes(plan)) {
    const removed =
      (node['Rows Removed by Join Filter'] ?? 0) +
      (node['Rows Removed by Filter'] ?? 0) +
      (node['Rows Removed by Index Recheck'] ?? 0);
    discarded += removed * node['Actual Loops'];
  }
  return discarded;
}

/** Rows the plan's nodes produced, over all their loops. */
export function rowsProduced(plan: PlanNode): number {
  let produced = 0;
  for (const node of planNodes(plan)) produced += node['Actual Rows'] * node['Actual Loops'];
  return produced;
}
