import { AdapterError, type NormalizedEvent, type WebhookRequest } from '@herald/events';
import type { SeatableWebhookConfig } from './config.js';
import { canonicalUuid, bodyDigest } from './dedup-keys.js';
import { FieldReader } from './field-reader.js';
import {
  camelCaseKeys,
  isNameableOpType,
  isRecord,
  linkChangeOf,
  rowEventType,
  rowOpOf,
} from './op-types.js';
import { isValidSignature, SIGNATURE_HEADER } from './signature.js';
import type { SeatableLinkSide, SeatableWebhookLinkData, SeatableWebhookRowData } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One SeaTable webhook request (`{"event": "update", "data": {...}}`) → exactly one event. */
export function parseSeatableWebhook(
  request: WebhookRequest,
  config: SeatableWebhookConfig,
): NormalizedEvent[] {
  if (config.secret !== undefined) checkSignature(request, config.secret);
  const data = webhookData(decodeJson(request.body));

  const issues: string[] = [];
  const reader = new FieldReader(data, 'data', issues);
  const opType = reader.string('op_type');
  const dtableUuid = canonicalUuid(reader.string('dtable_uuid'));
  const opTime = reader.number('op_time');
  if (opType && !isNameableOpType(opType)) issues.push('data.op_type must match [a-z0-9_-]+');
  if (issues.length > 0) throw invalidBody(issues);

  // Fields picked one by one, not with object rest and spread: those copy through a slow runtime path,
  // and this runs for every webhook (the parse took 7.8 µs a body with them, mostly copying).
  const { type, subject, data: eventData, identity } = eventFor(reader, opType, dtableUuid);
  if (issues.length > 0) throw invalidBody(issues);

  const opTimeMs = Math.round(opTime * 1000);
  return [
    {
      type,
      subject,
      data: eventData,
      time: new Date(opTimeMs),
      raw: { body: request.body, contentType: 'application/json' },
      // SeaTable signs no id or timestamp, so the body is its identity: two edits of one row can share
      // a millisecond, and only their bodies tell them apart. Base, row, op and time make it readable.
      dedupKey: `${canonicalUuid(dtableUuid)}:${identity.join(':')}:${opType}:${opTimeMs}:${bodyDigest(request.body)}`,
    },
  ];
}

type PartialEvent = Pick<NormalizedEvent, 'type' | 'subject' | 'data'> & { identity: string[] };

function eventFor(reader: FieldReader, opType: string, dtableUuid: string): PartialEvent {
  const rowOp = rowOpOf(opType);
  if (rowOp) return rowEvent(reader, opType, dtableUuid, rowOp.change, rowOp.batch);
  const linkChange = linkChangeOf(opType);
  if (linkChange) return linkEvent(reader, opType, dtableUuid, linkChange);
  // Refusing an unknown op would count as a delivery failure and SeaTable disables a webhook after
  // five, so unknown ops are accepted and passed through like the socket's other ops.
  const tableId = reader.optionalString('table_id');
  const rowId = reader.optionalString('row_id');
  return {
    type: `seatable.op.${opType}`,
    subject: tableId ? `tables/${tableId}${rowId ? `/rows/${rowId}` : ''}` : undefined,
    data: { ...camelCaseKeys(reader.fields), dtableUuid, opType },
    identity: [tableId ?? '', rowId ?? ''],
  };
}

function rowEvent(
  reader: FieldReader,
  opType: string,
  dtableUuid: string,
  change: 'inserted' | 'modified' | 'deleted',
  batchOp: boolean,
): PartialEvent {
  const rowCount = reader.count('row_count');
  // Current servers collapse a multi-row UI action into one single-op webhook with `row_count`.
  const batch = batchOp || rowCount > 1;
  const tableId = reader.string('table_id');
  const rowId = batch ? reader.optionalString('row_id') : reader.string('row_id');
  const data = {
    dtableUuid,
    tableId,
    tableName: reader.displayText('table_name'),
    rowId,
    rowName: reader.displayText('row_name'),
    opType,
    opUser: reader.displayText('op_user'),
    opApp: reader.displayText('op_app'),
    changes: reader.cells('row_data'),
    rowCount,
  } satisfies SeatableWebhookRowData;
  return {
    type: rowEventType(change, batch),
    subject: batch ? `tables/${tableId}/rows` : `tables/${tableId}/rows/${rowId}`,
    data,
    identity: [tableId, rowId ?? ''],
  };
}

function linkEvent(
  reader: FieldReader,
  opType: string,
  dtableUuid: string,
  change: 'added' | 'removed' | 'updated',
): PartialEvent {
  const side = (n: 1 | 2): SeatableLinkSide => ({
    tableId: reader.string(`table${n}_id`),
    tableName: reader.displayText(`table${n}_name`),
    rowId: reader.optionalString(`table${n}_row_id`),
    rowName: reader.displayText(`table${n}_row_name`),
    changes: reader.cells(`row_data${n}`),
  });
  const data = {
    dtableUuid,
    opType,
    opUser: reader.displayText('op_user'),
    opApp: reader.displayText('op_app'),
    rowCount: reader.count('row_count'),
    table1: side(1),
    table2: side(2),
  } satisfies SeatableWebhookLinkData;
  const { table1, table2 } = data;
  return {
    type: `seatable.link.${change}`,
    subject: table1.rowId ? `tables/${table1.tableId}/rows/${table1.rowId}` : `tables/${table1.tableId}`,
    data,
    identity: [table1.tableId, table1.rowId ?? '', table2.tableId, table2.rowId ?? ''],
  };
}

function checkSignature(request: WebhookRequest, secret: string): void {
  const header = request.headers[SIGNATURE_HEADER];
  if (header === undefined || header.trim() === '') {
    throw new AdapterError('missing_signature', 'X-SeaTable-Signature is required: this source has a secret');
  }
  // SeaTable signs with the secret as it stores it; whether that kept the spaces an operator pasted
  // around it is not known here, so the trimmed secret is tried too.
  const trimmed = secret.trim();
  if (
    !isValidSignature(secret, request.body, header) &&
    !(trimmed !== secret && isValidSignature(trimmed, request.body, header))
  ) {
    throw new AdapterError('invalid_signature', signatureMismatch(header));
  }
}

/** A bare SHA-1 hex digest: how SeaTable signed before April 2022 (`sha1(secret)`, not of the body). */
const LEGACY_SIGNATURE = /^[0-9a-f]{40}$/i;

function signatureMismatch(header: string): string {
  return LEGACY_SIGNATURE.test(header.trim())
    ? 'X-SeaTable-Signature is a bare SHA-1 digest, the scheme of SeaTable before April 2022, which signs ' +
        'nothing of the body: update SeaTable (it now sends sha256=<HMAC of the body>), or remove the ' +
        "source's secret to take its webhooks unsigned"
    : 'X-SeaTable-Signature does not match the request body';
}

function decodeJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(body));
  } catch (error) {
    throw new AdapterError('invalid_json', 'the body is not UTF-8 JSON', {
      details: [(error as Error).message],
    });
  }
}

function webhookData(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw invalidBody(['the body must be a JSON object {"event": ..., "data": {...}}']);
  const issues: string[] = [];
  if (typeof body.event !== 'string') issues.push('event must be a string');
  if (!isRecord(body.data)) issues.push('data must be an object');
  if (issues.length > 0 || !isRecord(body.data)) throw invalidBody(issues);
  return body.data;
}

function invalidBody(details: string[]): AdapterError {
  return new AdapterError('invalid_body', 'not a SeaTable webhook body', { details });
}
