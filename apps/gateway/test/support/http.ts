import { expect } from '@jest/globals';
import { connect } from 'node:net';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as is (a string or bytes) instead of JSON. */
  rawBody?: string | Uint8Array;
  headers?: Record<string, string>;
}

/** A small fetch wrapper: JSON in, parsed JSON (or text) out, never throws on HTTP errors. */
export function apiClient(baseUrl: string, defaultToken?: string) {
  return async function api<T = any>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token ?? defaultToken;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | Uint8Array | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(baseUrl + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the text
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  };
}

/** Polls until `check` stops throwing (or returns true), instead of sleeping a fixed time. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const result = await check();
      if (result !== false) return result;
      if (Date.now() > deadline) throw new Error('condition still false');
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Every event id a list query returns, following nextCursor to the end. */
export async function listAllEventIds(api: ReturnType<typeof apiClient>, query = ''): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const page: ApiResponse<{ data: Array<{ id: string }>; nextCursor: string | null }> = await api(
      'GET',
      `/v1/events?limit=500${query ? `&${query}` : ''}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    for (const event of page.body.data) ids.add(event.id);
    cursor = page.body.nextCursor;
  } while (cursor);
  return ids;
}

/**
 * Publishes `count` events of `type` (data `{i}`) through POST /v1/events from `concurrency` parallel
 * clients, asserting each 201; returns the ids in acknowledgement order.
 */
export async function publishConcurrently(
  api: ReturnType<typeof apiClient>,
  type: string,
  count: number,
  concurrency = 8,
): Promise<string[]> {
  const ids: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = w; i < count; i += concurrency) {
        const r = await api('POST', '/v1/events', { body: { type, data: { i } } });
        expect(r.status).toBe(201);
        ids.push(r.body.id);
      }
    }),
  );
  return ids;
}

/** Writes `bytes` on a new connection to `baseUrl` and resolves with all that comes back until it closes. */
export async function rawExchange(baseUrl: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  socket.write(bytes);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  // A server that closes with bytes unread resets the connection: what arrived before is the answer
  // (`once(socket, 'close')` would reject on the reset's error instead).
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return received;
}

/** The head and the parsed body of a raw HTTP answer (see `rawExchange`). */
export function splitRawAnswer(answer: string): { head: string; body: any } {
  const end = answer.indexOf('\r\n\r\n');
  return { head: answer.slice(0, end), body: JSON.parse(answer.slice(end + 4)) };
}
