import { describe, expect, it } from '@jest/globals';
import { normalizeNotification, normalizeSocketOperation } from '../src/index.js';
import * as ops from './fixtures/socket-ops.js';

const dtableUuid = '7c2a1f6e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
/** As webhooks send it: events carry this form whichever way they came. */
const canonical = '7c2a1f6e3b4d4e5f8a9b0c1d2e3f4a5b';
const raw = new Uint8Array();
const normalize = (op: Record<string, unknown>, version: number | null = 7) =>
  normalizeSocketOperation({ dtableUuid, op, version, raw });

describe('socket op normalization', () => {
  it('uses row_data._id as the inserted row and keeps row_id as the anchor', () => {
    expect(normalize(ops.insertRowOp)).toMatchObject({
      type: 'seatable.row.inserted',
      subject: 'tables/0000/rows/RngJuRa0SMGXyiA-SHDiAw',
      data: {
        dtableUuid: canonical,
        tableId: '0000',
        opType: 'insert_row',
        version: 7,
        rowId: 'RngJuRa0SMGXyiA-SHDiAw',
        anchorRowId: 'YFK9bD1XReSuQ7WP1YYjMA',
        insertPosition: 'insert_below',
        row: ops.insertRowOp.row_data,
      },
      dedupKey: expect.stringMatching(/^7c2a1f6e3b4d4e5f8a9b0c1d2e3f4a5b:v7:[\w-]{16}$/),
    });
  });

  it('pairs updated cells with their old values', () => {
    expect(normalize(ops.modifyRowOp)?.data).toMatchObject({
      rowId: 'RngJuRa0SMGXyiA-SHDiAw',
      changes: [
        { columnKey: '0000', value: 'Renamed task', oldValue: 'New task' },
        { columnKey: 'k9Qz', value: '381992', oldValue: null },
      ],
    });
  });

  it('lists every row of batch ops', () => {
    expect(normalize(ops.insertRowsOp)).toMatchObject({
      type: 'seatable.rows.inserted',
      subject: 'tables/0000/rows',
      data: { rowCount: 2, rows: [{ rowId: 'r1' }, { rowId: 'r2' }] },
    });
    expect(normalize(ops.modifyRowsOp)?.data).toMatchObject({
      rowCount: 2,
      rows: [
        { rowId: 'r1', changes: [{ columnKey: '0000', value: 'uno', oldValue: 'one' }] },
        { rowId: 'r2', changes: [{ columnKey: '0000', value: 'dos', oldValue: 'two' }] },
      ],
    });
    expect(normalize(ops.deleteRowsOp)).toMatchObject({
      type: 'seatable.rows.deleted',
      data: {
        rows: [
          { rowId: 'r1', row: { '0000': 'uno' } },
          { rowId: 'r2', row: { '0000': 'dos' } },
        ],
      },
    });
  });

  it('maps links to seatable.link.* and every other op to seatable.op.<op_type>', () => {
    expect(normalize(ops.addLinkOp)).toMatchObject({
      type: 'seatable.link.added',
      subject: 'tables/0000/rows/r1',
      data: {
        linkId: 'aBc1',
        table1: { tableId: '0000', rowId: 'r1' },
        table2: { tableId: '9g8f', rowId: 'x9' },
      },
    });
    expect(normalize(ops.renameColumnOp, null)).toEqual({
      type: 'seatable.op.rename_column',
      subject: 'tables/0000',
      data: {
        opType: 'rename_column',
        tableId: '0000',
        columnKey: 'k9Qz',
        newColumnName: 'Priority',
        oldColumnName: 'Prio',
        dtableUuid: canonical,
        version: null,
      },
      raw: { body: raw, contentType: 'application/json' },
      dedupKey: undefined,
    });
    expect(normalize({ op_type: 'Weird Op!' })).toBeUndefined();
    expect(normalize({ table_id: '0000' })).toBeUndefined();
  });

  it('turns a new-notification into seatable.notification', () => {
    const event = normalizeNotification(
      {
        id: 42,
        username: 'a@auth.local',
        dtable_uuid: dtableUuid,
        created_at: '2026-11-23T10:00:00+00:00',
        msg_type: 'row_comment',
        detail: { author: 'b@auth.local', table_id: '0000', row_id: 'r1', comment: 'hi' },
      },
      raw,
    );
    expect(event).toMatchObject({
      type: 'seatable.notification',
      subject: 'notifications/42',
      time: new Date('2026-11-23T10:00:00Z'),
      data: { id: 42, username: 'a@auth.local', msgType: 'row_comment', detail: { comment: 'hi' } },
      dedupKey: 'notification:42',
    });
  });
});
