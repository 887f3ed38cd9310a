import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  /** performance.now() when the request arrived. */
  at: number;
}

export interface ReceiverAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answers after this many milliseconds. */
  delayMs?: number;
  /** Sends the status line, the headers and the body so far, then resets the connection. */
  cutShort?: boolean;
}

/** What the receiver answers; change it mid-test to make an endpoint fail, recover or go away. */
export type Responder = (request: ReceivedWebhook) => ReceiverAnswer;

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** TCP connections accepted so far. */
  connections: () => number;
  respond(responder: Responder): void;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 that records every webhook it gets. */
export async function startWebhookReceiver(
  responder: Responder = () => ({ status: 204 }),
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let answer = responder;
  let connections = 0;
  // Delayed answers still due when the receiver closes would keep the test process alive.
  const delayed = new Set<NodeJS.Timeout>();
  const reply = (res: ServerResponse, a: ReceiverAnswer) => {
    res.writeHead(a.status, a.headers);
    // Chunked, so a reset before the last chunk leaves the body incomplete.
    if (a.cutShort) res.write(a.body ?? '', () => res.destroy());
    else res.end(a.body);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const webhook = {
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: performance.now(),
      };
      received.push(webhook);
      const a = answer(webhook);
      if (!a.delayMs) return reply(res, a);
      const timer = setTimeout(() => {
        delayed.delete(timer);
        reply(res, a);
      }, a.delayMs);
      delayed.add(timer);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    connections: () => connections,
    respond: (next) => (answer = next),
    close: () =>
      new Promise((resolve) => {
        delayed.forEach(clearTimeout);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
