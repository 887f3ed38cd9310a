import { describe, expect, it } from '@jest/globals';
import { apiClient, eventually } from './support/http.js';
import { capturedLogs, startTestApp } from './support/test-app.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

// A file of its own: nestjs-pino's loggers write to the first application a process starts, so captured
// lines need the only one.
describe('failed webhook attempts in the log', () => {
  it('logs a failed attempt once per endpoint per minute, then how many more failed', async () => {
    const logs = capturedLogs();
    // Attempts due again at once, so several fail within the minute.
    const herald = await startTestApp({ HERALD_RETRY_SCHEDULE: '0,0,0,0' }, undefined, 0, logs.logger);
    const receiver = await startWebhookReceiver(() => ({ status: 503 }));
    try {
      const admin = apiClient(herald.baseUrl, herald.adminToken);
      const endpoint = (
        await admin('POST', '/v1/endpoints', { body: { url: receiver.url, filter: { types: ['down.*'] } } })
      ).body;
      await admin('POST', '/v1/events', { body: { type: 'down.one' } });
      await eventually(() => receiver.received.length === 4);
      const failed = () => logs.lines.filter((line) => line.msg === 'webhook attempt failed');
      await eventually(() => failed().length === 1);
      expect(failed()[0]).toMatchObject({
        endpointId: endpoint.id,
        responseStatus: 503,
        next: expect.stringMatching(/^retry in \d+ s$/),
        failedUnlogged: 0,
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(failed()).toHaveLength(1);
      // The end of the schedule has a line of its own, throttled apart, and a counter.
      const givenUp = logs.lines.filter((line) => line.msg === 'webhook delivery failed: no more attempts');
      expect(givenUp).toEqual([
        expect.objectContaining({ endpointId: endpoint.id, attempts: 4, responseStatus: 503, level: 40 }),
      ]);
      const metrics = await fetch(`${herald.baseUrl}/metrics`).then((r) => r.text());
      expect(metrics).toContain('herald_deliveries_settled_total{status="failed"} 1');
      expect(metrics).toContain('herald_deliveries_settled_total{status="delivered"} 0');
    } finally {
      await receiver.close();
      await herald.close();
    }
  });
});
