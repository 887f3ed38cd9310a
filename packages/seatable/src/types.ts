/**
 * The `data` of every event this adapter produces. Field names are camelCase; values SeaTable sends
 * (cell values, option ids, row objects keyed by column key) are passed through unchanged.
 */

/** One changed cell, from a webhook's `row_data` or a socket op's `updated`/`old_row`. */
export interface SeatableCellChange {
  columnKey: string;
  /** Webhooks only: the socket identifies columns by key alone. */
  columnName?: string;
  /** Webhooks only. */
  columnType?: string;
  value: unknown;
  /** Present only when SeaTable sent the previous value (modifications). */
  oldValue?: unknown;
  /** Webhooks only: the column's settings (a select's `options`, a date's `format`), when sent. */
  columnData?: Record<string, unknown>;
}

/** `seatable.row.*` and `seatable.rows.*` from a webhook. */
export interface SeatableWebhookRowData {
  dtableUuid: string;
  tableId: string;
  tableName: string | null;
  /** For batch events SeaTable's choice of row (or null); for inserts the new row. */
  rowId: string | null;
  rowName: string | null;
  opType: string;
  opUser: string | null;
  opApp: string | null;
  changes: SeatableCellChange[];
  /** 1 for single-row events. */
  rowCount: number;
}

export interface SeatableLinkSide {
  tableId: string;
  tableName: string | null;
  rowId: string | null;
  rowName: string | null;
  changes: SeatableCellChange[];
}

/** `seatable.link.*` from a webhook. */
export interface SeatableWebhookLinkData {
  dtableUuid: string;
  opType: string;
  opUser: string | null;
  opApp: string | null;
  rowCount: number;
  table1: SeatableLinkSide;
  table2: SeatableLinkSide;
}

/** Fields every socket (`update-dtable`) event carries. */
export interface SeatableSocketOpBase {
  dtableUuid: string;
  opType: string;
  /** The base version after this operation. */
  version: number | null;
}

/** One row touched by a socket row op. */
export interface SeatableSocketRowEntry {
  rowId: string;
  /** Modifications: the changed cells by column key, with old values from `old_row(s)`. */
  changes?: SeatableCellChange[];
  /** Inserts: the new row; deletes: the deleted row (keyed by column key). */
  row?: Record<string, unknown>;
}

/** `seatable.row.*` from the socket. */
export interface SeatableSocketRowData extends SeatableSocketOpBase, SeatableSocketRowEntry {
  tableId: string;
  /** `insert_row` only: the row the new row was placed next to. */
  anchorRowId?: string;
  /** `insert_row` only: `insert_below` or `insert_above`. */
  insertPosition?: string;
}

/** `seatable.rows.*` from the socket. */
export interface SeatableSocketRowsData extends SeatableSocketOpBase {
  tableId: string;
  rowCount: number;
  rows: SeatableSocketRowEntry[];
}

/** `seatable.link.added|removed` from the socket (`add_link`, `remove_link`). */
export interface SeatableSocketLinkData extends SeatableSocketOpBase {
  linkId: string | null;
  table1: { tableId: string; rowId: string };
  table2: { tableId: string; rowId: string };
}

/**
 * `seatable.op.<op_type>` (and `seatable.link.updated` from the socket): the op's top-level fields
 * with camelCase names, values unchanged.
 */
export type SeatableSocketOtherOpData = SeatableSocketOpBase & Record<string, unknown>;

/** `seatable.notification` (socket `new-notification`). */
export interface SeatableNotificationData {
  id: number | string | null;
  username: string | null;
  dtableUuid: string | null;
  msgType: string | null;
  createdAt: string | null;
  detail: unknown;
}

/** `herald.source.gap`: base versions this source never received. */
export interface SeatableGapData {
  dtableUuid: string;
  /** The last version the source saw. */
  fromVersion: number;
  /** The version that revealed the gap (an op's version, or the join ack's `dtable_version`). */
  toVersion: number;
  /** How many operations were not received. */
  missing: number;
  /**
   * `version_jump`: consecutive `update-dtable` versions skipped; `rejoin`: the base moved on while
   * disconnected; `resume`: it moved on while no Herald instance held the stream (a restart, a
   * takeover, the source stopped), judged against the newest version stored; `undecodable`: the op
   * of `toVersion` arrived but is not a JSON object or has no usable `op_type` (its bytes are the
   * event's raw).
   */
  reason: 'version_jump' | 'rejoin' | 'resume' | 'undecodable';
}

export type ToastType = 'success' | 'warning' | 'danger';

/** Input of the `toasts` action (`POST /v1/sources/:id/toasts`). */
export interface ToastInput {
  /** SeaTable's internal user id, `<32 hex>@auth.local`. */
  toUser: string;
  message: string;
  type: ToastType;
}

export interface ToastResult {
  delivered: true;
  /** The SeaTable URL that accepted the toast. */
  url: string;
  status: number;
}
