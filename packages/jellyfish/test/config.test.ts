import { describe, expect, it } from '@jest/globals';
import { jellyfishAdapter, serverSocketUrl } from '../src/index.js';

describe('jellyfish adapter surface', () => {
  it('declares both modes, its media types and that disconnects may lose events', () => {
    expect(jellyfishAdapter.provider).toBe('jellyfish');
    expect(jellyfishAdapter.modes).toEqual(['webhook', 'stream']);
    expect(jellyfishAdapter.webhookContentTypes).toEqual(['application/x-protobuf', 'application/json']);
    expect(jellyfishAdapter.disconnectMayLoseEvents).toBe(true);
    expect(jellyfishAdapter.createStream).toBeDefined();
  });
});

describe('jellyfish webhook config', () => {
  it.each([[{}], [{ signingSecret: 'whsec-abc' }]])('accepts %j', (config) => {
    expect(jellyfishAdapter.parseConfig('webhook', config)).toEqual({ ok: true, config });
  });

  it('names each bad field', () => {
    expect(jellyfishAdapter.parseConfig('webhook', { signingSecret: '', extra: 1 })).toEqual({
      ok: false,
      errors: [
        { field: 'extra', message: 'extra: unknown field (allowed: signingSecret)' },
        { field: 'signingSecret', message: 'signingSecret: must be a non-empty string when given' },
      ],
    });
    expect(jellyfishAdapter.parseConfig('webhook', 'secret')).toEqual({
      ok: false,
      errors: [{ message: 'config: must be an object' }],
    });
  });

  it('masks the signing secret', () => {
    expect(jellyfishAdapter.redactConfig('webhook', { signingSecret: 'whsec-0123456789' })).toEqual({
      signingSecret: 'whse****',
    });
    expect(jellyfishAdapter.redactConfig('webhook', {})).toEqual({});
  });
});

describe('jellyfish stream config', () => {
  it('fills in metrics: false', () => {
    expect(
      jellyfishAdapter.parseConfig('stream', { serverUrl: 'http://jf:5002', serverApiToken: 'development' }),
    ).toEqual({
      ok: true,
      config: { serverUrl: 'http://jf:5002', serverApiToken: 'development', metrics: false },
    });
  });

  it('names each bad field', () => {
    const check = jellyfishAdapter.parseConfig('stream', { serverUrl: 'ftp://jf', metrics: 'yes' });
    expect(check).toEqual({
      ok: false,
      errors: [
        {
          field: 'serverUrl',
          message:
            'serverUrl: must be an absolute http, https, ws or wss URL without credentials, query or fragment',
        },
        { field: 'serverApiToken', message: 'serverApiToken: required, a non-empty string' },
        { field: 'metrics', message: 'metrics: must be a boolean when given' },
      ],
    });
    expect(jellyfishAdapter.parseConfig('stream', {})).toMatchObject({
      ok: false,
      errors: [
        { field: 'serverUrl', message: expect.stringMatching(/^serverUrl: required/) },
        { field: 'serverApiToken', message: expect.stringMatching(/^serverApiToken: required/) },
      ],
    });
  });

  it('spells a server one way, so a slash or a capital is no move to another server', () => {
    for (const serverUrl of ['http://JF:5002/', 'http://jf:5002//', 'http://jf:5002']) {
      const check = jellyfishAdapter.parseConfig('stream', { serverUrl, serverApiToken: 'development' });
      expect(check).toMatchObject({ ok: true, config: { serverUrl: 'http://jf:5002' } });
    }
    // A base path (Fishjam Cloud) is kept, without its trailing slash.
    const cloud = jellyfishAdapter.parseConfig('stream', {
      serverUrl: 'https://fishjam.io/api/v1/connect/abc/',
      serverApiToken: 't',
    });
    expect(cloud).toMatchObject({ config: { serverUrl: 'https://fishjam.io/api/v1/connect/abc' } });
  });

  it('refuses credentials in the server URL, which would be shown unmasked', () => {
    expect(
      jellyfishAdapter.parseConfig('stream', {
        serverUrl: 'http://admin:hunter2@jf:5002',
        serverApiToken: 'development',
      }),
    ).toEqual({
      ok: false,
      errors: [
        {
          field: 'serverUrl',
          message:
            'serverUrl: must be an absolute http, https, ws or wss URL without credentials, query or fragment',
        },
      ],
    });
  });

  it('masks the server API token', () => {
    expect(
      jellyfishAdapter.redactConfig('stream', {
        serverUrl: 'http://jf:5002',
        serverApiToken: 'development',
        metrics: true,
      }),
    ).toEqual({ serverUrl: 'http://jf:5002', serverApiToken: 'deve****', metrics: true });
  });

  it.each([
    ['http://jf:5002', 'ws://jf:5002/socket/server/websocket'],
    ['https://jf.example.com/', 'wss://jf.example.com/socket/server/websocket'],
    ['wss://jf.example.com', 'wss://jf.example.com/socket/server/websocket'],
    [
      'https://fishjam.io/api/v1/connect/abc123',
      'wss://fishjam.io/api/v1/connect/abc123/socket/server/websocket',
    ],
  ])('connects %s at %s', (serverUrl, socketUrl) => {
    expect(serverSocketUrl(serverUrl)).toBe(socketUrl);
  });
});
