import { afterEach, describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { generateSecret } from '@herald/events';
import { SenderThread } from '../src/endpoints/deliveries/sender-thread.js';
import type { SendResult } from '../src/endpoints/deliveries/webhook-poster.js';
import { THREAD_SCRIPT } from '../src/endpoints/deliveries/webhook-sender.js';
import { eventually } from './support/http.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

const SLOTS = 4;

describe('the sender thread', () => {
  let thread: SenderThread;
  let receiver: WebhookReceiver | undefined;
  const secret = generateSecret();
  let crashes: string[] = [];

  const start = () => {
    crashes = [];
    thread = new SenderThread(
      THREAD_SCRIPT,
      {
        allowPrivateTargets: true,
        userAgent: 'Herald/test',
        maxTimeoutMs: 15_000,
        perEndpointConcurrency: SLOTS,
      },
      (reason) => crashes.push(reason),
    );
  };
  const post = (url: string, n: number, endpointId = 'endpoint-a') =>
    thread.post({
      endpointId,
      url,
      secrets: [secret],
      id: `msg_${endpointId}_${n}`,
      body: JSON.stringify({ n }),
      timeoutMs: 15_000,
    });

  afterEach(async () => {
    await thread.stop();
    await receiver?.close();
    receiver = undefined;
  });

  it('posts signed messages and answers with what the receiver said and when the request started', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 202, body: 'thanks' }));
    start();
    const before = Date.now();
    const result = await post(receiver.url, 1);
    expect(result).toEqual(
      expect.objectContaining({ status: 202, body: 'thanks', error: null, retryAfter: undefined }),
    );
    expect(result!.attemptedAt.getTime()).toBeGreaterThanOrEqual(before - 1);
    const [webhook] = receiver.received;
    expect(webhook!.headers['user-agent']).toBe('Herald/test');
    expect(new Webhook(secret).verify(webhook!.body, webhook!.headers as Record<string, string>)).toEqual({
      n: 1,
    });
  });

  it('keeps at most its slots in flight per endpoint, and one busy endpoint does not hold up another', async () => {
    let open = 0;
    let most = 0;
    receiver = await startWebhookReceiver(() => {
      most = Math.max(most, ++open);
      return { status: 204, delayMs: 150 };
    });
    const answered = () => open--;
    start();
    const busy = Array.from({ length: 3 * SLOTS }, (_, n) => post(receiver!.url, n).then(answered));
    await eventually(() => receiver!.received.length === SLOTS);
    const other = await post(receiver.url, 0, 'endpoint-b');
    answered();
    expect(other!.status).toBe(204);
    // The other endpoint's request went out while the busy one's queue was still long.
    expect(receiver.received.length).toBeLessThan(3 * SLOTS);
    await Promise.all(busy);
    expect(receiver.received).toHaveLength(3 * SLOTS + 1);
    expect(most).toBeLessThanOrEqual(SLOTS + 1);
  });

  it('drops, unsent, what still waits for a slot, and lets what runs finish', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 300 }));
    start();
    const results = Array.from({ length: SLOTS + 3 }, (_, n) => post(receiver!.url, n));
    await eventually(() => receiver!.received.length === SLOTS);
    thread.dropWaiting();
    const settled = await Promise.all(results);
    expect(settled.filter((result) => result === null)).toHaveLength(3);
    expect(settled.filter((result) => result?.status === 200)).toHaveLength(SLOTS);
    expect(receiver.received).toHaveLength(SLOTS);
  });

  it('aborts what runs on request (shutdown)', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 5_000 }));
    start();
    const result = post(receiver.url, 1);
    await eventually(() => receiver!.received.length === 1);
    thread.abortAll();
    expect(await result).toEqual(
      expect.objectContaining({ status: null, error: expect.stringContaining('cancelled by shutdown') }),
    );
  });

  it('ends the attempts of a thread that dies with an error, and the next message starts a new thread', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 200, delayMs: 5_000 }));
    start();
    const inFlight = post(receiver.url, 1);
    await eventually(() => receiver!.received.length === 1);
    await thread.start().terminate();
    const lost: SendResult | null = await inFlight;
    expect(lost).toEqual(
      expect.objectContaining({
        status: null,
        error: 'the sender thread stopped: it exited with code 1',
      }),
    );
    expect(crashes).toEqual(['it exited with code 1']);
    receiver.respond(() => ({ status: 204 }));
    expect((await post(receiver.url, 2))!.status).toBe(204);
    await thread.stop();
    // Stopping is no crash.
    expect(crashes).toHaveLength(1);
  });
});
