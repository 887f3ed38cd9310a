import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { apiClient } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('migrations', () => {
  let herald: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    herald = await startTestApp();
    db = herald.app.get(DataSource);
  });
  afterAll(() => herald.close());

  const deliveryKeys = async () =>
    (
      await db.query(
        `SELECT conname FROM pg_constraint
         WHERE contype = 'f' AND conrelid IN ('deliveries'::regclass, 'delivery_attempts'::regclass)
         ORDER BY conname`,
      )
    ).map((row: { conname: string }) => row.conname);

  const deliveryIndexes = async () =>
    (
      await db.query(
        `SELECT indexname FROM pg_indexes WHERE tablename = 'deliveries' AND indexname LIKE 'deliveries_lease%'`,
      )
    ).map((row: { indexname: string }) => row.indexname);

  // The newest first, as `undoLastMigration` takes them; the last test applies both again.
  it('reverts IndexLeasesByExpiry to the lease index it replaced', async () => {
    expect(await deliveryIndexes()).toEqual(['deliveries_lease_expiry']);
    await db.undoLastMigration({ transaction: 'each' });
    expect(await deliveryIndexes()).toEqual(['deliveries_leased']);
  });

  it('reverts DropDeliveryForeignKeys (strays the keys would refuse removed) and applies both again', async () => {
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    const endpoint = (await admin('POST', '/v1/endpoints', { body: { url: 'http://127.0.0.1:9/x' } })).body;
    const event = (await admin('POST', '/v1/events', { body: { type: 'kept.a' } })).body;
    // Disabled, so the worker leaves the strays below alone.
    await db.query(`UPDATE endpoints SET enabled = false WHERE id = $1`, [endpoint.id]);
    await db.query(
      `INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
       VALUES (gen_random_uuid(), $2, $3, 'pending', now()), ($1, $4, gen_random_uuid(), 'pending', now())`,
      [endpoint.id, event.seq, event.id, String(BigInt(event.seq) + 1000n)],
    );
    expect(await deliveryKeys()).toEqual([]);

    await db.undoLastMigration({ transaction: 'each' });
    expect(await deliveryKeys()).toEqual([
      'deliveries_endpoint_id_fkey',
      'deliveries_event_seq_fkey',
      'delivery_attempts_delivery_id_fkey',
    ]);
    // The event's own delivery (its fan-out) stays; the strays to no endpoint and to no event do not.
    const kept = await db.query(`SELECT endpoint_id, event_seq FROM deliveries`);
    expect(kept).toEqual([{ endpoint_id: endpoint.id, event_seq: event.seq }]);

    expect((await db.runMigrations({ transaction: 'each' })).map((m) => m.name)).toEqual([
      'DropDeliveryForeignKeys1795450000000',
      'IndexLeasesByExpiry1795450100000',
    ]);
    expect(await deliveryKeys()).toEqual([]);
    expect(await deliveryIndexes()).toEqual(['deliveries_lease_expiry']);
  });
});
