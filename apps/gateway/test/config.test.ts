import { describe, expect, it } from '@jest/globals';
import { ConfigurationError } from '../src/config/environment.js';
import { DEFAULT_RETRY_SCHEDULE, loadConfig } from '../src/config/herald-config.js';

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({ HERALD_DATA_DIR: '/var/tmp/h' });
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      retentionDays: 30,
      allowPrivateTargets: false,
      retrySchedule: DEFAULT_RETRY_SCHEDULE,
      maxBodyBytes: 1024 * 1024,
      dataDir: '/var/tmp/h',
      shutdownDelayMs: 0,
    });
    expect(config.databaseUrl).toBeUndefined();
  });

  it('parses every variable', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u:p@db:5432/herald',
      PORT: '9000',
      HERALD_RETENTION_DAYS: '7',
      HERALD_ALLOW_PRIVATE_TARGETS: 'true',
      HERALD_RETRY_SCHEDULE: '0, 1,2.5',
      HERALD_MAX_BODY: '2mib',
      HERALD_ADMIN_TOKEN: 'a-long-enough-admin-token',
      REDIS_URL: 'redis://:secret@redis:6379/2',
      HERALD_SHUTDOWN_DELAY: '5',
    });
    expect(config).toMatchObject({
      shutdownDelayMs: 5_000,
      databaseUrl: 'postgres://u:p@db:5432/herald',
      port: 9000,
      retentionDays: 7,
      allowPrivateTargets: true,
      retrySchedule: [0, 1, 2.5],
      maxBodyBytes: 2 * 1024 * 1024,
      adminToken: 'a-long-enough-admin-token',
      redisUrl: 'redis://:secret@redis:6379/2',
    });
  });

  it('leaves Redis off when REDIS_URL is unset or empty', () => {
    expect(loadConfig({}).redisUrl).toBeUndefined();
    expect(loadConfig({ REDIS_URL: '' }).redisUrl).toBeUndefined();
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        HERALD_MAX_BODY: '100',
        HERALD_RETENTION_DAYS: '0',
        HERALD_ALLOW_PRIVATE_TARGETS: 'maybe',
        HERALD_RETRY_SCHEDULE: '1,x',
        DATABASE_URL: 'mysql://x',
        LOG_LEVEL: 'loud',
        HERALD_ADMIN_TOKEN: 'short',
        REDIS_URL: 'http://redis:6379',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const problems = (error as ConfigurationError).problems.join('\n');
    for (const name of [
      'PORT',
      'HERALD_MAX_BODY',
      'HERALD_RETENTION_DAYS',
      'HERALD_ALLOW_PRIVATE_TARGETS',
      'HERALD_RETRY_SCHEDULE',
      'DATABASE_URL',
      'LOG_LEVEL',
      'HERALD_ADMIN_TOKEN',
      'REDIS_URL',
    ]) {
      expect(problems).toContain(`${name}=`);
    }
    // Credentials are named, never echoed (the error goes to the log).
    expect(problems).toContain('PORT="eighty"');
    for (const secret of ['short', 'mysql://x', 'http://redis:6379']) expect(problems).not.toContain(secret);
  });

  it('refuses a DATABASE_URL the driver cannot parse, without echoing it, and takes socket URLs', () => {
    let error: unknown;
    try {
      loadConfig({ DATABASE_URL: 'postgres://herald:s3cret@127.0.0.1:notaport/herald' });
    } catch (e) {
      error = e;
    }
    const [problem] = (error as ConfigurationError).problems;
    expect(problem).toMatch(/^DATABASE_URL.*is not a valid URL/);
    expect(problem).not.toContain('s3cret');
    // Socket URLs, with credentials too, which the URL class alone refuses and node-postgres reads.
    for (const url of [
      'postgresql:///herald?host=/var/run/postgresql',
      'postgres://herald:pw@/herald?host=/var/run/postgresql',
    ]) {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  it.each([
    ['PORT', 'abc', 'must be an integer port from 1 to 65535'],
    ['PORT', '0', 'must be an integer port from 1 to 65535'],
    ['PORT', '65536', 'must be an integer port from 1 to 65535'],
    ['PORT', '80.5', 'must be an integer port from 1 to 65535'],
    ['HERALD_RETENTION_DAYS', 'week', 'must be a whole number of days from 1 to 3650'],
    ['HERALD_SOCKET_MAX_BUFFER', '5', 'must be an integer from 10 to 1000000'],
    ['HERALD_REQUEST_TIMEOUT', '0', 'must be a whole number of seconds from 1 to 3600'],
    ['HERALD_SHUTDOWN_DELAY', '121', 'must be a whole number of seconds from 0 to 120'],
    ['HERALD_STREAM_AUTH_RETRY', '86401', 'must be a whole number of seconds from 1 to 86400'],
    [
      'HERALD_CORS_ORIGINS',
      'https://admin.example.com/app',
      'must be * or comma-separated origins such as https://admin.example.com (no path)',
    ],
    // Number() reads both as integers: 8080 and 1000.
    ['PORT', '0x1F90', 'must be an integer port from 1 to 65535'],
    ['PORT', '1e3', 'must be an integer port from 1 to 65535'],
    ['HOST', '   ', 'must be a host name or address, without spaces'],
    [
      'HERALD_PUBLIC_URL',
      'https://herald.example?a=b',
      'must be an http(s) URL without a query or fragment (ingest URLs are built on it)',
    ],
    ['HERALD_MAX_BODY', '100', 'must be a size from 1kib to 1024mib, such as 1048576, 512kb or 1mib'],
    ['HERALD_MAX_BODY', '100000mib', 'must be a size from 1kib to 1024mib, such as 1048576, 512kb or 1mib'],
    ['HERALD_RETRY_SCHEDULE', '0,99999999999', 'each delay must be at most 2592000 seconds (30 days)'],
    ['HERALD_RETRY_SCHEDULE', 'soon', 'must be comma-separated seconds, e.g. 0,5,300'],
  ])('reports %s=%s with one rule', (name, value, rule) => {
    expect(() => loadConfig({ [name]: value })).toThrow(
      expect.objectContaining({ problems: [`${name}=${JSON.stringify(value)}: ${rule}`] }),
    );
  });
});
