import type { Socket } from 'node:net';
import { ANSWER_HEADERS } from '../answer-headers.js';
import { ErrorCode } from './error-code.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from './problem.js';

/**
 * Node's refusals of a connection's bytes before any route runs (Fastify's `clientErrorHandler`): a
 * request that did not arrive whole within HERALD_REQUEST_TIMEOUT, headers over Node's limit, bytes that
 * are not HTTP. Fastify's own answers to them are JSON of another shape; these are problem documents
 * like every other error. Returns the status written, or null when nothing could be written.
 */
export function answerClientError(
  error: Error & { code?: string },
  socket: Socket,
  requestTimeoutSeconds: number,
): number | null {
  // A reset connection has nobody to answer; one whose answer has begun cannot take a second.
  const answering = (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable || answering?.headersSent) {
    socket.destroy();
    return null;
  }
  const problem = clientProblem(error.code, requestTimeoutSeconds);
  const body = JSON.stringify(problem);
  // As Node's own answer does: the write reaches the kernel at once, and nobody waits for a client that
  // does not read.
  const headers = {
    ...ANSWER_HEADERS,
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  };
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`HTTP/1.1 ${problem.status} ${problem.title}\r\n${head.join('')}\r\n${body}`);
  socket.destroy();
  return problem.status;
}

function clientProblem(code: string | undefined, requestTimeoutSeconds: number) {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return problemOf(
        ErrorCode.RequestTimeout,
        `The request did not arrive whole within ${requestTimeoutSeconds} s (HERALD_REQUEST_TIMEOUT).`,
      );
    case 'HPE_HEADER_OVERFLOW':
      return problemOf(ErrorCode.HeadersTooLarge, 'The request headers are larger than 16 KiB.');
    default:
      return problemOf(ErrorCode.MalformedRequest, 'The bytes received are not a valid HTTP/1.1 request.');
  }
}
