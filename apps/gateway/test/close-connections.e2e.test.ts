import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { eventually } from './support/http.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/** Far below Node's headers timeout (60 s), which is what such a close used to wait for. */
const CLOSE_BOUND_MS = 5_000;

async function closeOutcome(herald: TestApp): Promise<string> {
  return Promise.race([
    herald.close().then(() => 'closed'),
    sleep(CLOSE_BOUND_MS, `still closing after ${CLOSE_BOUND_MS} ms`, { ref: false }),
  ]);
}

describe('closing the gateway', () => {
  it('does not wait for a connection on which no request was ever sent', async () => {
    const herald = await startTestApp();
    let accepted = 0;
    herald.app.getHttpServer().on('connection', () => accepted++);
    // A browser's preconnect, or a load balancer's spare connection.
    const silent = connect(Number(new URL(herald.baseUrl).port), '127.0.0.1');
    try {
      await once(silent, 'connect');
      await eventually(() => accepted === 1);
      expect(await closeOutcome(herald)).toBe('closed');
    } finally {
      silent.destroy();
    }
  });

  it('does not wait for the connection Node’s fetch opens again after a response body is cancelled', async () => {
    const herald = await startTestApp();
    let accepted = 0;
    herald.app.getHttpServer().on('connection', () => accepted++);
    // Large enough that fetch stops reading before its end, so cancelling it aborts the request: fetch then
    // connects again for the aborted request and sends nothing on the new connection. A client that only
    // looks at statuses leaves its bodies to the garbage collector, which cancels them the same way.
    const response = await fetch(`${herald.baseUrl}/docs/openapi.json`);
    expect(response.status).toBe(200);
    await response.body?.cancel();
    await eventually(() => expect(accepted).toBe(2));
    expect(await closeOutcome(herald)).toBe('closed');
  });
});
