import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { apiClient } from './support/http.js';
import { connectSocket } from './support/sockets.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/** Answers to `requests`, each sent on one connection once the answer before it is in. */
function exchange(baseUrl: string, requests: string[]): Promise<string[]> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const answers: string[] = [];
    let buffered = Buffer.alloc(0);
    const socket = connect(Number(port), hostname, () => socket.write(requests[0]!));
    const timer = setTimeout(
      () => socket.destroy(new Error(`answers so far: ${answers.join(' | ')}`)),
      5_000,
    );
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(buffered.subarray(0, end).toString('latin1'))?.[1];
      if (end < 0 || length === undefined || buffered.length < end + 4 + Number(length)) return;
      answers.push(buffered.subarray(0, end + 4 + Number(length)).toString('utf8'));
      buffered = Buffer.alloc(0);
      if (answers.length === requests.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answers);
      } else socket.write(requests[answers.length]!);
    });
    socket.on('error', reject);
    // Without every answer (after an answer, a no-op).
    socket.on('close', () => reject(new Error(`closed after ${answers.length} answers`)));
  });
}

/** The h2c upgrade `curl --http2` and Java's HttpClient add to a request to a cleartext origin. */
const H2C =
  'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n';

describe('requests that ask to upgrade the connection', () => {
  let herald: TestApp;

  beforeAll(async () => {
    herald = await startTestApp();
  });
  afterAll(() => herald.close());

  it('are served as plain HTTP/1.1 requests, bodies and keep-alive included', async () => {
    const body = JSON.stringify({ type: 'upgraded.publish', data: { text: 'é'.repeat(40_000) } });
    const answers = await exchange(herald.baseUrl, [
      `GET /healthz HTTP/1.1\r\nHost: herald\r\n${H2C}\r\n`,
      `POST /v1/events HTTP/1.1\r\nHost: herald\r\n${H2C}Authorization: Bearer ${herald.adminToken}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      `GET /v1/nothing-here HTTP/1.1\r\nHost: herald\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
    ]);
    // Each answered on the one connection, kept alive; none switches protocols.
    expect(answers.map((answer) => answer.slice(0, 12))).toEqual([
      'HTTP/1.1 200',
      'HTTP/1.1 201',
      'HTTP/1.1 404',
    ]);
    const published = JSON.parse(answers[1]!.split('\r\n\r\n')[1]!);
    const stored = await apiClient(herald.baseUrl, herald.adminToken)('GET', `/v1/events/${published.id}`);
    expect(stored.body.data.text).toHaveLength(40_000);
  });

  it('leave the subscriber websocket to socket.io', async () => {
    const socket = await connectSocket(herald.baseUrl, herald.adminToken);
    expect(socket.connected).toBe(true);
    socket.disconnect();
  });
});
