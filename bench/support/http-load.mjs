import { Agent, request } from 'node:http';
import autocannon from 'autocannon';

// node:http with keep-alive costs the load generator far less CPU than fetch, so it measures Herald.
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** POSTs a JSON body and resolves with the status and body text. */
export function postJson(url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A JSON API call with a bearer token (set-up traffic, not measured). */
export async function api(baseUrl, token, method, path, body) {
  const response = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * autocannon, programmatic: `[<id>]` in the body becomes a fresh id per request (autocannon's
 * idReplacement), so every SeaTable body has its own dedup key. `overallRate` caps the offered rate.
 * Returns requests/s of 2xx answers, latency percentiles (ms) and the error count.
 */
export async function loadTest({ url, body, connections = 64, seconds, amount, overallRate, headers = {} }) {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    idReplacement: true,
    connections,
    ...(amount === undefined ? { duration: seconds } : { amount }),
    overallRate,
    timeout: 30,
  });
  const ok = result['2xx'];
  const elapsed = result.duration;
  return {
    rps: ok / elapsed,
    ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    elapsed,
  };
}
