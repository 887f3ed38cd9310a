/** SeaTable `op_type` values and how they map to Herald type names (shared by webhooks and the socket). */

export type RowChange = 'inserted' | 'modified' | 'deleted';
export type LinkChange = 'added' | 'removed' | 'updated';

interface RowOp {
  change: RowChange;
  /** Batch ops (`*_rows`) become `seatable.rows.*`. */
  batch: boolean;
}

const ROW_OPS: Readonly<Record<string, RowOp>> = {
  insert_row: { change: 'inserted', batch: false },
  // The help page's signature example shows `create_row`; accept it rather than lose an insert.
  create_row: { change: 'inserted', batch: false },
  insert_rows: { change: 'inserted', batch: true },
  append_rows: { change: 'inserted', batch: true },
  modify_row: { change: 'modified', batch: false },
  modify_rows: { change: 'modified', batch: true },
  delete_row: { change: 'deleted', batch: false },
  delete_rows: { change: 'deleted', batch: true },
};

const LINK_OPS: Readonly<Record<string, LinkChange>> = {
  add_link: 'added',
  remove_link: 'removed',
  update_links: 'updated',
  update_rows_links: 'updated',
};

export function rowOpOf(opType: string): RowOp | undefined {
  return Object.hasOwn(ROW_OPS, opType) ? ROW_OPS[opType] : undefined;
}

export function linkChangeOf(opType: string): LinkChange | undefined {
  return Object.hasOwn(LINK_OPS, opType) ? LINK_OPS[opType] : undefined;
}

export function rowEventType(change: RowChange, batch: boolean): string {
  return `seatable.${batch ? 'rows' : 'row'}.${change}`;
}

/** Herald type segments are `[a-z0-9_-]+`; an op type outside that cannot name an event. */
export function isNameableOpType(opType: string): boolean {
  return /^[a-z0-9_-]{1,100}$/.test(opType);
}

export function camelCase(key: string): string {
  return key.replace(/_+([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

/** Top-level keys only: nested values are SeaTable data (column keys, row objects) and stay as sent. */
export function camelCaseKeys(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [camelCase(key), value]));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
