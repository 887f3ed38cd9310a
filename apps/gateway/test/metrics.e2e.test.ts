import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { apiClient, eventually, rawExchange, splitRawAnswer } from './support/http.js';
import { connectSocket } from './support/sockets.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('GET /metrics on a fresh instance', () => {
  let herald: TestApp;

  beforeAll(async () => {
    herald = await startTestApp();
    // Three deliveries waiting for a disabled endpoint, before the first scrape counts them.
    const admin = apiClient(herald.baseUrl, herald.adminToken);
    const endpoint = (
      await admin('POST', '/v1/endpoints', { body: { url: 'https://example.com/paused', enabled: false } })
    ).body;
    const event = (await admin('POST', '/v1/events', { body: { type: 'waiting.one' } })).body;
    const db = new pg.Client({ connectionString: herald.databaseUrl });
    await db.connect();
    await db.query(
      `INSERT INTO deliveries (endpoint_id, event_seq, event_id, status, next_attempt_at)
       SELECT $1, $2, $3, 'pending', now() FROM generate_series(1, 3)`,
      [endpoint.id, event.seq, event.id],
    );
    await db.end();
  });
  afterAll(() => herald.close());

  it('exports every series with known labels from the start, at zero', async () => {
    const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
    // A series that first appears at its first increment hides that increment from rate().
    for (const provider of ['seatable', 'jellyfish', 'unknown']) {
      for (const outcome of ['accepted', 'refused', 'failed']) {
        expect(metrics).toContain(
          `herald_ingest_requests_total{provider="${provider}",outcome="${outcome}"} 0`,
        );
      }
    }
    for (const outcome of ['delivered', 'rejected', 'error']) {
      expect(metrics).toContain(`herald_delivery_attempts_total{outcome="${outcome}"} 0`);
    }
    expect(metrics).toContain(`herald_build_info{version="0.1.0",node="${process.version}"} 1`);
    for (const signal of ['events_committed', 'api_key_revoked']) {
      expect(metrics).toContain(
        `herald_cluster_signals_received_total{signal="${signal}",transport="postgres"} 0`,
      );
    }
    for (const provider of ['seatable', 'jellyfish']) {
      for (const outcome of ['stored', 'failed']) {
        expect(metrics).toContain(
          `herald_stream_events_total{provider="${provider}",outcome="${outcome}"} 0`,
        );
      }
    }
    // An instance that holds no stream source still reports the series.
    for (const state of ['connecting', 'connected', 'backoff', 'auth_failed', 'stopped']) {
      expect(metrics).toContain(`herald_stream_sources{state="${state}"} 0`);
    }
  });

  it('counts the pending deliveries of the whole cluster when scraped', async () => {
    const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toContain('herald_deliveries_pending 3');
  });

  it('counts subscriber sockets that end by why they ended', async () => {
    const socket = await connectSocket(herald.baseUrl, herald.adminToken);
    socket.disconnect();
    await eventually(async () => {
      const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
      return metrics.includes('herald_socket_disconnects_total{reason="client"} 1');
    });
    const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toContain('herald_socket_disconnects_total{reason="slow_consumer"} 0');
  });

  it('counts HTTP answers by route pattern and status, never by URL', async () => {
    const admin = (path: string, method = 'GET') =>
      fetch(`${herald.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${herald.adminToken}` },
      });
    await admin('/v1/events?limit=1');
    await admin('/v1/events/01a20908-12fe-72dd-bcfb-85f9c4aed6b5');
    await admin('/v1/nothing-here');
    await fetch(`${herald.baseUrl}/v1/ingest/01a20908-12fe-72dd-bcfb-85f9c4aed6b5/hing_secret-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toContain('herald_http_requests_total{method="GET",route="/v1/events",status="200"} 1');
    expect(metrics).toContain(
      'herald_http_requests_total{method="GET",route="/v1/events/:id",status="404"} 1',
    );
    expect(metrics).toContain('herald_http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(metrics).toContain(
      'herald_http_requests_total{method="POST",route="/v1/ingest/:sourceId/:ingestToken",status="404"} 1',
    );
    expect(metrics).not.toContain('hing_secret-token');
    // And how long each took, by the same patterns.
    expect(metrics).toContain(
      'herald_http_request_duration_seconds_count{method="GET",route="/v1/events"} 1',
    );
    expect(metrics).toContain(
      'herald_http_request_duration_seconds_bucket{le="30",method="POST",route="/v1/ingest/:sourceId/:ingestToken"} 1',
    );
  });

  it("counts as unmatched the answers to URLs the router cannot take, which skip Fastify's hooks", async () => {
    const malformed = await fetch(
      `${herald.baseUrl}/v1/ingest/01a20908-12fe-72dd-bcfb-85f9c4aed6b5/hing_%ff-other-token`,
    );
    const overlong = await fetch(`${herald.baseUrl}/v1/events/${'a'.repeat(200)}`);
    expect([malformed.status, overlong.status]).toEqual([400, 400]);
    const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toContain('herald_http_requests_total{method="GET",route="unmatched",status="400"} 2');
    expect(metrics).not.toContain('other-token');
  });

  it('answers bytes that are no request with a problem document, counted as unmatched', async () => {
    const garbage = splitRawAnswer(await rawExchange(herald.baseUrl, 'HELLO THERE\r\n\r\n'));
    const hugeHeaders = splitRawAnswer(
      await rawExchange(
        herald.baseUrl,
        `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      ),
    );
    expect([garbage.head, hugeHeaders.head]).toEqual([
      expect.stringMatching(/^HTTP\/1\.1 400 [^]*content-type: application\/problem\+json/i),
      expect.stringMatching(/^HTTP\/1\.1 431 [^]*content-type: application\/problem\+json/i),
    ]);
    expect([garbage.body, hugeHeaders.body]).toEqual([
      expect.objectContaining({ status: 400, code: 'malformed_request' }),
      expect.objectContaining({ status: 431, code: 'headers_too_large' }),
    ]);
    const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toContain(
      'herald_http_requests_total{method="unknown",route="unmatched",status="400"} 1',
    );
    expect(metrics).toContain(
      'herald_http_requests_total{method="unknown",route="unmatched",status="431"} 1',
    );
  });
});

describe('GET /metrics while the database hangs', () => {
  let herald: TestApp;

  beforeAll(async () => {
    herald = await startTestApp();
  });
  afterAll(() => herald.close());

  it('answers at once, leaving out only the pending count it could not get', async () => {
    // The count waits for this lock, as it would for a frozen Postgres.
    const holder = new pg.Client({ connectionString: herald.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const scraped = await fetch(`${herald.baseUrl}/metrics`);
      expect(scraped.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(3_000);
      const metrics = await scraped.text();
      expect(metrics).toContain('herald_deliveries_pending 0');
      expect(metrics).toContain('herald_socket_connections 0');
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });
});
