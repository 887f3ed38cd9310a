import type { NormalizedEvent } from '@herald/events';
import {
  camelCaseKeys,
  isNameableOpType,
  isRecord,
  linkChangeOf,
  rowEventType,
  rowOpOf,
  type RowChange,
} from './op-types.js';
import type {
  SeatableCellChange,
  SeatableSocketLinkData,
  SeatableSocketOpBase,
  SeatableSocketRowData,
  SeatableSocketRowEntry,
  SeatableSocketRowsData,
} from './types.js';
import { canonicalUuid, bodyDigest } from './dedup-keys.js';

export interface SocketOperation {
  dtableUuid: string;
  /** The parsed `update-dtable` operation. */
  op: Record<string, unknown>;
  /** The base version after the op (`update-dtable`'s second argument), when sent. */
  version: number | null;
  /** The op's JSON text as received. */
  raw: Uint8Array;
}

type Fields = Record<string, unknown>;

/**
 * One `update-dtable` operation → one event, or undefined when the op has no usable `op_type`.
 * Socket ops carry column keys, not names, and no time or user: the gateway stamps arrival time.
 */
export function normalizeSocketOperation({
  dtableUuid,
  op,
  version,
  raw,
}: SocketOperation): NormalizedEvent | undefined {
  const opType = op.op_type;
  if (typeof opType !== 'string' || !isNameableOpType(opType)) return undefined;
  const base: SeatableSocketOpBase = { dtableUuid: canonicalUuid(dtableUuid), opType, version };
  const event =
    rowOpEvent(op, base) ?? linkOpEvent(op, base) ?? otherOpEvent(op, base, `seatable.op.${opType}`);
  return {
    ...event,
    raw: { body: raw, contentType: 'application/json' },
    // Every op bumps the base version by one, so (base, version) names an op, until the base is
    // restored to an older version and counts those versions again with other ops: the op's digest
    // keeps those from being taken for the ones stored before the restore.
    dedupKey: version === null ? undefined : `${versionKeyPrefix(dtableUuid)}${version}:${bodyDigest(raw)}`,
  };
}

/** Dedup keys of socket ops are this prefix, the base version after the op, and more (see above). */
export function versionKeyPrefix(dtableUuid: string): string {
  return `${canonicalUuid(dtableUuid)}:v`;
}

/** The base version a socket op's dedup key names (keys stored before the digest was added end there). */
export function versionOfKey(key: string, dtableUuid: string): number | undefined {
  const version = Number(key.slice(versionKeyPrefix(dtableUuid).length).split(':', 1)[0]);
  return Number.isInteger(version) ? version : undefined;
}

/**
 * Dedup key of a `herald.source.gap` ending at `toVersion`, outside the op prefix: the checkpoint
 * reads the two apart (`gapKeyPrefix`).
 */
export function gapKey(dtableUuid: string, toVersion: number): string {
  return `${gapKeyPrefix(dtableUuid)}${toVersion}`;
}

export function gapKeyPrefix(dtableUuid: string): string {
  return `${canonicalUuid(dtableUuid)}:gap:`;
}

/** The version a gap's dedup key ends at. */
export function versionOfGapKey(key: string, dtableUuid: string): number | undefined {
  const version = Number(key.slice(gapKeyPrefix(dtableUuid).length).split(':', 1)[0]);
  return Number.isInteger(version) ? version : undefined;
}

type EventBody = Pick<NormalizedEvent, 'type' | 'subject' | 'data'>;

function rowOpEvent(op: Fields, base: SeatableSocketOpBase): EventBody | undefined {
  const rowOp = rowOpOf(base.opType);
  if (!rowOp) return undefined;
  const tableId = text(op.table_id);
  if (rowOp.batch) {
    const rows = batchRows(op, rowOp.change);
    const data: SeatableSocketRowsData = { ...base, tableId, rowCount: rows.length, rows };
    return { type: rowEventType(rowOp.change, true), subject: `tables/${tableId}/rows`, data: { ...data } };
  }
  const data: SeatableSocketRowData = { ...base, tableId, ...singleRow(op, rowOp.change) };
  return {
    type: rowEventType(rowOp.change, false),
    subject: `tables/${tableId}/rows/${data.rowId}`,
    data: { ...data },
  };
}

function singleRow(op: Fields, change: RowChange): SeatableSocketRowEntry & Partial<SeatableSocketRowData> {
  switch (change) {
    case 'inserted': {
      // `row_id` of an insert is the anchor the row was placed next to; the new row is `row_data`.
      const row = record(op.row_data);
      return {
        rowId: text(row._id),
        row,
        anchorRowId: text(op.row_id),
        insertPosition: text(op.row_insert_position) || 'insert_below',
      };
    }
    case 'modified':
      return { rowId: text(op.row_id), changes: cellChanges(op.updated, op.old_row) };
    case 'deleted':
      return { rowId: text(op.row_id), row: record(op.deleted_row) };
  }
}

function batchRows(op: Fields, change: RowChange): SeatableSocketRowEntry[] {
  if (change === 'inserted') {
    return list(op.row_datas).map((row) => ({ rowId: text(record(row)._id), row: record(row) }));
  }
  const rowIds = list(op.row_ids).map(text);
  if (change === 'modified') {
    const updated = record(op.updated);
    const oldRows = record(op.old_rows);
    return rowIds.map((rowId) => ({ rowId, changes: cellChanges(updated[rowId], oldRows[rowId]) }));
  }
  const deletedRows = list(op.deleted_rows).map(record);
  return rowIds.map((rowId, index) => ({
    rowId,
    row: deletedRows.find((row) => row._id === rowId) ?? deletedRows[index] ?? {},
  }));
}

function linkOpEvent(op: Fields, base: SeatableSocketOpBase): EventBody | undefined {
  const change = linkChangeOf(base.opType);
  if (!change) return undefined;
  // `update_links`/`update_rows_links` have a different shape (table_id, other_table_id, id maps).
  if (change === 'updated') return otherOpEvent(op, base, 'seatable.link.updated');
  const data: SeatableSocketLinkData = {
    ...base,
    linkId: text(op.link_id) || null,
    table1: { tableId: text(op.table1_id), rowId: text(op.table1_row_id) },
    table2: { tableId: text(op.table2_id), rowId: text(op.table2_row_id) },
  };
  return {
    type: `seatable.link.${change}`,
    subject: `tables/${data.table1.tableId}/rows/${data.table1.rowId}`,
    data: { ...data },
  };
}

function otherOpEvent(op: Fields, base: SeatableSocketOpBase, type: string): EventBody {
  const tableId = text(op.table_id);
  const rowId = text(op.row_id);
  return {
    type,
    subject: tableId ? `tables/${tableId}${rowId ? `/rows/${rowId}` : ''}` : undefined,
    data: { ...camelCaseKeys(op), ...base },
  };
}

/** `updated` ({columnKey: value}) paired with the old row's values for the same keys. */
function cellChanges(updated: unknown, oldRow: unknown): SeatableCellChange[] {
  const previous = record(oldRow);
  return Object.entries(record(updated)).map(([columnKey, value]) => ({
    columnKey,
    value,
    oldValue: previous[columnKey] ?? null,
  }));
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function record(value: unknown): Fields {
  return isRecord(value) ? value : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
