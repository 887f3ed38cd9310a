import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('browser origins (HERALD_CORS_ORIGINS)', () => {
  let open: TestApp;
  let closed: TestApp;
  const preflight = (app: TestApp, origin: string) =>
    fetch(`${app.baseUrl}/v1/sources`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  beforeAll(async () => {
    [open, closed] = await Promise.all([
      startTestApp({ HERALD_CORS_ORIGINS: 'https://admin.example.com, http://localhost:5173' }),
      startTestApp(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([open.close(), closed.close()]);
  });

  it("lets a named origin's page call the REST API with a key, and no other", async () => {
    const allowed = await preflight(open, 'http://localhost:5173');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(allowed.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();

    const listed = await fetch(`${open.baseUrl}/v1/sources`, {
      headers: { origin: 'https://admin.example.com', authorization: `Bearer ${open.adminToken}` },
    });
    expect(listed.status).toBe(200);
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');

    // An OPTIONS that is no preflight (no Origin) gets an empty 204 naming no origin, not a plain-text 400.
    const bare = await fetch(`${open.baseUrl}/v1/sources`, { method: 'OPTIONS' });
    expect({ status: bare.status, origin: bare.headers.get('access-control-allow-origin') }).toEqual({
      status: 204,
      origin: null,
    });

    const other = await fetch(`${open.baseUrl}/v1/sources`, {
      headers: { origin: 'https://evil.example', authorization: `Bearer ${open.adminToken}` },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers no origin by default', async () => {
    const refused = await preflight(closed, 'https://admin.example.com');
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const listed = await fetch(`${closed.baseUrl}/v1/sources`, {
      headers: { origin: 'https://admin.example.com', authorization: `Bearer ${closed.adminToken}` },
    });
    expect(listed.headers.get('access-control-allow-origin')).toBeNull();
  });
});
