import { createHash } from 'node:crypto';
import { AdapterError, type WebhookRequest } from '@herald/events';
import { describe, expect, it } from '@jest/globals';
import { computeSignature, seatableAdapter } from '../src/index.js';
import { buildSeatableWebhook } from '../src/testing/index.js';
import {
  deletedRowExample,
  insertedRowExample,
  singleSelectModifiedExample,
} from './fixtures/seed-webhook-examples.js';

const SECRET = 's3cret-key';
const secured = { secret: SECRET };

function parse(request: WebhookRequest, config: Record<string, unknown> = secured) {
  return seatableAdapter.parseWebhook(request, config);
}

function adapterErrorOf(run: () => unknown): AdapterError {
  try {
    run();
  } catch (error) {
    if (error instanceof AdapterError) return error;
    throw error;
  }
  throw new Error('expected an AdapterError');
}

describe('webhook signatures', () => {
  it('verifies a json.dumps body against a signature computed by Python (hmac, sha256)', () => {
    const request = buildSeatableWebhook({
      dtable_uuid: 'fae0a3a42ba94df88e8303fd385e37de',
      row_name: 'Prüfung ✓ 😀',
      op_time: 1649929622.589,
      row_data: [],
      op_app: null,
      n: [1, 2.5, true],
    });
    // python3: hmac.new(b"s3cret-key", json.dumps(body).encode(), hashlib.sha256).hexdigest()
    expect(computeSignature(SECRET, request.body)).toBe(
      'sha256=fbf01e93b4a84df0ea89795ba9a0a557a6c481a39cafb2e84314c07d3b84604b',
    );
  });

  it('accepts a signed body with non-ASCII text in Python byte form', () => {
    const data = { ...singleSelectModifiedExample.data, row_name: 'Büro – Ærø 😀', table_name: 'Aufgaben' };
    const request = buildSeatableWebhook(data, { secret: SECRET });
    expect(request.text).toContain('"row_name": "B\\u00fcro \\u2013 \\u00c6r\\u00f8 \\ud83d\\ude00"');
    const [event] = parse(request);
    expect(event?.data.rowName).toBe('Büro – Ærø 😀');
  });

  it('rejects a tampered body', () => {
    const request = buildSeatableWebhook(deletedRowExample.data, { secret: SECRET });
    const tampered = new TextEncoder().encode(
      request.text.replace('QoNno3QiTF26sxmG1sl3_g', 'QoNno3QiTF26sxmG1sl3_h'),
    );
    const error = adapterErrorOf(() => parse({ ...request, body: tampered }));
    expect(error.code).toBe('invalid_signature');
  });

  it('rejects a signature computed over re-serialized JSON instead of the raw bytes', () => {
    const request = buildSeatableWebhook(deletedRowExample.data, { secret: SECRET });
    const reserialized = computeSignature(SECRET, JSON.stringify(JSON.parse(request.text)));
    const error = adapterErrorOf(() =>
      parse({ ...request, headers: { ...request.headers, 'x-seatable-signature': reserialized } }),
    );
    expect(error.code).toBe('invalid_signature');
  });

  it("says so when the signature is the pre-2022 scheme's bare SHA-1", () => {
    const request = buildSeatableWebhook(deletedRowExample.data);
    const legacy = createHash('sha1').update(SECRET).digest('hex');
    const error = adapterErrorOf(() =>
      parse({ ...request, headers: { ...request.headers, 'x-seatable-signature': legacy } }),
    );
    expect(error.code).toBe('invalid_signature');
    expect(error.message).toContain('before April 2022');
  });

  it('requires the signature header when the source has a secret, and ignores it otherwise', () => {
    const unsigned = buildSeatableWebhook(deletedRowExample.data);
    expect(adapterErrorOf(() => parse(unsigned)).code).toBe('missing_signature');
    expect(parse(unsigned, {})).toHaveLength(1);
    const wrongForm = { ...unsigned, headers: { ...unsigned.headers, 'x-seatable-signature': 'sha1=abc' } };
    expect(adapterErrorOf(() => parse(wrongForm)).code).toBe('invalid_signature');
  });
});

describe('webhook bodies', () => {
  it('parses the help page example of an inserted row', () => {
    const request = buildSeatableWebhook(insertedRowExample.data, { secret: SECRET });
    expect(parse(request)).toEqual([
      {
        type: 'seatable.row.inserted',
        subject: 'tables/9g8f/rows/Fk-i7xZGS5iA5aSvaG5HAA',
        time: new Date('2022-04-14T07:52:57.279Z'),
        data: {
          dtableUuid: 'fae0a3a42ba94df88e8303fd385e37de',
          tableId: '9g8f',
          tableName: 'Opportunities',
          rowId: 'Fk-i7xZGS5iA5aSvaG5HAA',
          rowName: null,
          opType: 'insert_row',
          opUser: '4bc9a7c79c5942c5b6238413f2132bea@auth.local',
          opApp: null,
          changes: [],
          rowCount: 1,
        },
        raw: { body: request.body, contentType: 'application/json' },
        dedupKey: expect.stringMatching(
          /^fae0a3a42ba94df88e8303fd385e37de:9g8f:Fk-i7xZGS5iA5aSvaG5HAA:insert_row:1649922777279:[\w-]{16}$/,
        ),
      },
    ]);
  });

  it('parses the help page example of a modified single-select cell', () => {
    const [event] = parse(buildSeatableWebhook(singleSelectModifiedExample.data, { secret: SECRET }));
    expect(event?.type).toBe('seatable.row.modified');
    expect(event?.subject).toBe('tables/9g8f/rows/QoNno3QiTF26sxmG1sl3_g');
    expect(event?.time?.toISOString()).toBe('2022-04-14T09:47:02.589Z');
    // The column's options come along: they say that option id 381992 is "++".
    expect(event?.data.changes).toEqual([
      {
        columnKey: '589r',
        columnName: 'Prio',
        columnType: 'single-select',
        value: '381992',
        oldValue: '',
        columnData: singleSelectModifiedExample.data.row_data[0]!.column_data,
      },
    ]);
  });

  it('parses the help page example of a deleted row', () => {
    const [event] = parse(buildSeatableWebhook(deletedRowExample.data, { secret: SECRET }));
    expect(event).toMatchObject({
      type: 'seatable.row.deleted',
      subject: 'tables/9g8f/rows/QoNno3QiTF26sxmG1sl3_g',
      data: { rowId: 'QoNno3QiTF26sxmG1sl3_g', opType: 'delete_row', changes: [], rowCount: 1 },
    });
  });

  it('turns a batch edit (row_count) into one seatable.rows.* event', () => {
    const [modified] = parse(
      buildSeatableWebhook(
        { ...singleSelectModifiedExample.data, row_count: 12, op_app: 'importer' },
        secured,
      ),
    );
    expect(modified).toMatchObject({
      type: 'seatable.rows.modified',
      subject: 'tables/9g8f/rows',
      data: { rowCount: 12, opApp: 'importer', rowId: 'QoNno3QiTF26sxmG1sl3_g' },
    });
    const { row_id: _rowId, ...withoutRow } = insertedRowExample.data;
    const [appended] = parse(
      buildSeatableWebhook({ ...withoutRow, op_type: 'append_rows', row_count: 3 }, secured),
    );
    expect(appended).toMatchObject({ type: 'seatable.rows.inserted', data: { rowId: null, rowCount: 3 } });
    const [deleted] = parse(
      buildSeatableWebhook({ ...deletedRowExample.data, op_type: 'delete_rows' }, secured),
    );
    expect(deleted?.type).toBe('seatable.rows.deleted');
  });

  it('turns link events (table1_*/table2_*) into seatable.link.*', () => {
    const link = {
      dtable_uuid: 'fae0a3a42ba94df88e8303fd385e37de',
      op_user: '4bc9a7c79c5942c5b6238413f2132bea@auth.local',
      op_type: 'add_link',
      op_time: 1649930000.5,
      op_app: null,
      row_count: 1,
      table1_id: '9g8f',
      table1_name: 'Opportunities',
      table1_row_id: 'QoNno3QiTF26sxmG1sl3_g',
      table1_row_name: 'Big deal',
      row_data1: [
        { column_key: 'lnk1', column_name: 'Contacts', column_type: 'link', value: [{ Ab: 'Ann' }] },
      ],
      table2_id: '0000',
      table2_name: 'Contacts',
      table2_row_id: 'Ab',
      table2_row_name: 'Ann',
      row_data2: [],
    };
    const [added] = parse(buildSeatableWebhook(link, secured));
    expect(added).toMatchObject({
      type: 'seatable.link.added',
      subject: 'tables/9g8f/rows/QoNno3QiTF26sxmG1sl3_g',
      data: {
        opType: 'add_link',
        rowCount: 1,
        table1: {
          tableId: '9g8f',
          tableName: 'Opportunities',
          rowId: 'QoNno3QiTF26sxmG1sl3_g',
          rowName: 'Big deal',
          changes: [
            { columnKey: 'lnk1', columnName: 'Contacts', columnType: 'link', value: [{ Ab: 'Ann' }] },
          ],
        },
        table2: { tableId: '0000', tableName: 'Contacts', rowId: 'Ab', rowName: 'Ann', changes: [] },
      },
    });
    expect(added?.dedupKey).toMatch(
      /^fae0a3a42ba94df88e8303fd385e37de:9g8f:QoNno3QiTF26sxmG1sl3_g:0000:Ab:add_link:1649930000500:[\w-]{16}$/,
    );
    expect(parse(buildSeatableWebhook({ ...link, op_type: 'remove_link' }, secured))[0]?.type).toBe(
      'seatable.link.removed',
    );
    expect(parse(buildSeatableWebhook({ ...link, op_type: 'update_links' }, secured))[0]?.type).toBe(
      'seatable.link.updated',
    );
  });

  it('gives a redelivered identical webhook the same dedupKey, and a later change a different one', () => {
    const first = parse(buildSeatableWebhook(singleSelectModifiedExample.data, secured))[0];
    const again = parse(buildSeatableWebhook(singleSelectModifiedExample.data, secured))[0];
    const later = parse(
      buildSeatableWebhook({ ...singleSelectModifiedExample.data, op_time: 1649929622.6 }, secured),
    )[0];
    expect(again?.dedupKey).toBe(first?.dedupKey);
    expect(later?.dedupKey).not.toBe(first?.dedupKey);
  });

  it('gives two different edits of one row in the same millisecond different dedupKeys', () => {
    const edit = (value: string) =>
      parse(
        buildSeatableWebhook(
          {
            ...singleSelectModifiedExample.data,
            row_data: [{ ...singleSelectModifiedExample.data.row_data[0]!, value }],
          },
          secured,
        ),
      )[0]?.dedupKey;
    expect(edit('830278')).not.toBe(edit('381992'));
    const batch = (rowCount: number) =>
      parse(
        buildSeatableWebhook(
          { ...deletedRowExample.data, op_type: 'delete_rows', row_count: rowCount },
          secured,
        ),
      )[0]?.dedupKey;
    expect(batch(3)).not.toBe(batch(2));
  });

  it('passes unknown op types through as seatable.op.<op_type> instead of refusing them', () => {
    const [event] = parse(
      buildSeatableWebhook(
        { ...deletedRowExample.data, op_type: 'archive_rows', row_ids: ['a', 'b'] },
        secured,
      ),
    );
    expect(event).toMatchObject({
      type: 'seatable.op.archive_rows',
      subject: 'tables/9g8f/rows/QoNno3QiTF26sxmG1sl3_g',
      data: {
        opType: 'archive_rows',
        tableId: '9g8f',
        rowIds: ['a', 'b'],
        dtableUuid: 'fae0a3a42ba94df88e8303fd385e37de',
      },
    });
  });

  it('accepts display fields of any JSON type: a non-text primary column must not switch the webhook off', () => {
    const [numbered] = parse(
      buildSeatableWebhook({ ...singleSelectModifiedExample.data, row_name: 42.5, op_user: true }, secured),
    );
    expect(numbered?.data).toMatchObject({ rowName: '42.5', opUser: 'true' });
    const link = {
      dtable_uuid: 'fae0a3a42ba94df88e8303fd385e37de',
      op_type: 'add_link',
      op_time: 1649930000.5,
      table1_id: '9g8f',
      table1_row_id: 'QoNno3QiTF26sxmG1sl3_g',
      table1_row_name: ['a', 1],
      table2_id: '0000',
      table2_row_id: 'Ab',
      table2_row_name: { display: 'Ann' },
    };
    const [linked] = parse(buildSeatableWebhook(link, secured));
    expect(linked?.data).toMatchObject({
      table1: { rowName: '["a",1]' },
      table2: { rowName: '{"display":"Ann"}' },
    });
  });

  it('rejects bodies that are not JSON with invalid_json, and not SeaTable-shaped with invalid_body and details', () => {
    const raw = (text: string): WebhookRequest => ({
      headers: {},
      contentType: 'application/json',
      body: new TextEncoder().encode(text),
    });
    const notJson = adapterErrorOf(() => parse(raw('{"event": '), {}));
    expect(notJson.code).toBe('invalid_json');
    expect(notJson.message).toMatch(/not UTF-8 JSON/);
    expect(notJson.details).toHaveLength(1);
    expect(adapterErrorOf(() => parse(raw('[1, 2]'), {})).code).toBe('invalid_body');
    expect(adapterErrorOf(() => parse(raw('{"event": "update"}'), {})).details).toEqual([
      'data must be an object',
    ]);
    const badFields = adapterErrorOf(() =>
      parse(
        raw(
          '{"event": "update", "data": {"op_type": "modify_row", "op_time": "soon", "row_data": [{"value": 1}]}}',
        ),
        {},
      ),
    );
    expect(badFields.details).toEqual([
      'data.dtable_uuid must be a non-empty string',
      'data.op_time must be a number',
    ]);
    const badRow = adapterErrorOf(() =>
      parse(
        raw(
          '{"event": "update", "data": {"op_type": "modify_row", "op_time": 1, "dtable_uuid": "x", "row_data": [{"value": 1}]}}',
        ),
        {},
      ),
    );
    expect(badRow.details).toEqual([
      'data.table_id must be a non-empty string',
      'data.row_id must be a non-empty string',
      'data.row_data[0].column_key must be a non-empty string',
    ]);
    const invalidUtf8 = {
      headers: {},
      contentType: 'application/json',
      body: Uint8Array.of(0x22, 0xff, 0x22),
    };
    expect(adapterErrorOf(() => parse(invalidUtf8, {})).code).toBe('invalid_json');
  });
});
