import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('GET /metrics on a fresh instance', () => {
  let herald: TestApp;

  beforeAll(async () => {
    herald = await startTestApp();
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
    for (const signal of ['events_committed', 'api_key_revoked']) {
      expect(metrics).toContain(
        `herald_cluster_signals_received_total{signal="${signal}",transport="postgres"} 0`,
      );
    }
    // An instance that holds no stream source still reports the series.
    for (const state of ['connecting', 'connected', 'backoff', 'auth_failed', 'stopped']) {
      expect(metrics).toContain(`herald_stream_sources{state="${state}"} 0`);
    }
  });
});
