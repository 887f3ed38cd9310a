import { describe, expect, it } from '@jest/globals';
import { seatableAdapter } from '../src/index.js';

describe('seatableAdapter', () => {
  it('declares the provider, its modes, media types and the toasts action', () => {
    expect(seatableAdapter).toMatchObject({
      provider: 'seatable',
      modes: ['webhook', 'stream'],
      webhookContentTypes: ['application/json'],
      disconnectMayLoseEvents: true,
    });
    expect(typeof seatableAdapter.createStream).toBe('function');
    expect(Object.keys(seatableAdapter.actions ?? {})).toEqual(['toasts']);
  });
});

describe('source configs', () => {
  it('accepts a webhook config with or without a secret', () => {
    expect(seatableAdapter.parseConfig('webhook', {})).toEqual({ ok: true, config: {} });
    // Spaces kept: SeaTable signs with the secret exactly as it stores it.
    expect(seatableAdapter.parseConfig('webhook', { secret: ' abc ' })).toEqual({
      ok: true,
      config: { secret: ' abc ' },
    });
    expect(
      seatableAdapter.parseConfig('webhook', { serverUrl: 'https://cloud.seatable.io/', apiToken: 't0k' }),
    ).toEqual({ ok: true, config: { serverUrl: 'https://cloud.seatable.io', apiToken: 't0k' } });
  });

  it('fills in the stream defaults and normalizes the server URL', () => {
    expect(
      seatableAdapter.parseConfig('stream', { serverUrl: 'https://cloud.seatable.io/', apiToken: 'abc' }),
    ).toEqual({
      ok: true,
      config: {
        serverUrl: 'https://cloud.seatable.io',
        apiToken: 'abc',
        socketPath: '/api-gateway/socket.io',
      },
    });
    expect(
      seatableAdapter.parseConfig('stream', {
        serverUrl: 'http://seatable.local:8080',
        apiToken: 'abc',
        socketPath: '/socket.io/',
      }),
    ).toMatchObject({
      ok: true,
      config: { serverUrl: 'http://seatable.local:8080', socketPath: '/socket.io' },
    });
  });

  it('names every bad field', () => {
    expect(
      seatableAdapter.parseConfig('stream', { serverUrl: 'ftp://x', socketPath: 'socket.io', extra: 1 }),
    ).toEqual({
      ok: false,
      errors: [
        {
          field: 'extra',
          message: 'config.extra is not a stream config field (expected serverUrl, apiToken, socketPath)',
        },
        { field: 'apiToken', message: 'config.apiToken is required' },
        { field: 'serverUrl', message: 'config.serverUrl must be an http(s) URL' },
        { field: 'socketPath', message: 'config.socketPath must start with "/"' },
      ],
    });
    expect(seatableAdapter.parseConfig('stream', { serverUrl: 'not a url', apiToken: 5 })).toEqual({
      ok: false,
      errors: [
        { field: 'apiToken', message: 'config.apiToken must be a non-empty string' },
        { field: 'serverUrl', message: 'config.serverUrl is not a valid URL' },
      ],
    });
    expect(seatableAdapter.parseConfig('webhook', { secret: '', serverUrl: 'https://x.io' })).toEqual({
      ok: false,
      errors: [
        { field: 'secret', message: 'config.secret must be a non-empty string' },
        {
          field: 'apiToken',
          message: 'config.serverUrl and config.apiToken go together (both are needed to send toasts)',
        },
      ],
    });
    // A placeholder copied from docs, or a token with a space inside, could never be sent in a header.
    for (const apiToken of ['…', 'abc def']) {
      expect(seatableAdapter.parseConfig('stream', { serverUrl: 'https://x.io', apiToken })).toEqual({
        ok: false,
        errors: [
          {
            field: 'apiToken',
            message: 'config.apiToken must be printable ASCII without spaces (it is sent in an HTTP header)',
          },
        ],
      });
    }
    expect(seatableAdapter.parseConfig('webhook', 'secret')).toEqual({
      ok: false,
      errors: [{ message: 'config must be an object' }],
    });
  });

  it('masks secrets and API tokens', () => {
    expect(seatableAdapter.redactConfig('webhook', { secret: 'abcdefghijkl' })).toEqual({
      secret: 'abcd****',
    });
    expect(
      seatableAdapter.redactConfig('stream', {
        serverUrl: 'https://x.io',
        apiToken: 'short',
        socketPath: '/s',
      }),
    ).toEqual({ serverUrl: 'https://x.io', apiToken: '****', socketPath: '/s' });
  });
});
