import { Agent, request } from 'node:http';

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
