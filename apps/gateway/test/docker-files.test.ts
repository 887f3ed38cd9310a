import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { MAIN } from './support/gateway-process.js';
import { SHUTDOWN_DEADLINE_MS } from '../src/shutdown-deadline.js';
import { START_COMMAND } from '../src/start-command.js';

const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

/** No Docker engine runs here: these checks read docker/ the way compose and the builder would. */
describe('docker/', () => {
  const dockerfile = readFileSync(repo('docker/Dockerfile'), 'utf8');

  it('builds from a turbo prune with the frozen lockfile and runs as a non-root user with a /readyz healthcheck', () => {
    expect(dockerfile).toMatch(/turbo@\$\{TURBO_VERSION\}" prune @herald\/gateway --docker/);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile/);
    expect(dockerfile).toMatch(/deploy --prod/);
    const user = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
    expect(user).toEqual(['herald']);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/readyz/m);
    expect(readFileSync(repo('package.json'), 'utf8')).toContain(
      `"packageManager": "pnpm@${/PNPM_VERSION=(\S+)/.exec(dockerfile)?.[1]}"`,
    );
  });

  it('starts the image with the command the start tests run (the deployed tree is apps/gateway)', () => {
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(cmd).toEqual(START_COMMAND);
    expect(cmd).toEqual(expect.arrayContaining(['--single-threaded-gc', '--no-allocation-site-pretenuring']));
    expect(fileURLToPath(new URL(`../${cmd.at(-1)}`, import.meta.url))).toBe(MAIN);
    expect(existsSync(MAIN)).toBe(true);
    // `pnpm deploy` copies what the package publishes: the build, not its sources and tests.
    expect(JSON.parse(readFileSync(repo('apps/gateway/package.json'), 'utf8')).files).toEqual(['dist']);
  });

  it("gives a graceful stop longer than Herald's own deadline before Docker kills it", () => {
    const compose = parse(readFileSync(repo('docker/compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, { stop_grace_period?: string }>;
    };
    for (const name of ['gateway-1', 'gateway-2']) {
      const grace = /^(\d+)s$/.exec(compose.services[name]!.stop_grace_period ?? '')?.[1];
      expect(Number(grace) * 1000).toBeGreaterThan(SHUTDOWN_DEADLINE_MS);
    }
    // No Dockerfile instruction sets the stop timeout (docker run's is 10 s): the image says what to pass.
    const advised = /docker run --stop-timeout (\d+)/.exec(dockerfile)?.[1];
    expect(Number(advised) * 1000).toBeGreaterThan(SHUTDOWN_DEADLINE_MS);
    expect(dockerfile).toContain(`up to ${SHUTDOWN_DEADLINE_MS / 1000} s`);
  });

  it('composes Postgres 16+, two gateway replicas, a sticky proxy and an optional Redis', () => {
    const compose = parse(readFileSync(repo('docker/compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, any>;
      volumes: Record<string, unknown>;
    };
    expect(Object.keys(compose.services).sort()).toEqual([
      'gateway-1',
      'gateway-2',
      'postgres',
      'proxy',
      'redis',
    ]);
    expect(compose.services.redis.profiles).toEqual(['redis']);
    expect(compose.services.redis.healthcheck.test).toContain('ping');
    const postgresMajor = Number(/^postgres:(\d+)/.exec(compose.services.postgres.image)?.[1]);
    expect(postgresMajor).toBeGreaterThanOrEqual(16);
    expect(compose.services.postgres.healthcheck.test.join(' ')).toContain('pg_isready');
    for (const name of ['gateway-1', 'gateway-2']) {
      const gateway = compose.services[name];
      expect(gateway.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
      expect(gateway.environment.DATABASE_URL).toMatch(/^postgres:\/\/herald:.*@postgres:5432\/herald$/);
      expect(gateway.environment.HERALD_ADMIN_TOKEN).toBeDefined();
      expect(gateway.depends_on.postgres.condition).toBe('service_healthy');
      expect(gateway.environment.REDIS_URL).toBe('${REDIS_URL:-}');
      // No localhost default: providers could not reach the ingest URLs built from it.
      expect(gateway.environment.HERALD_PUBLIC_URL).toBe('${HERALD_PUBLIC_URL:-}');
      // Behind nginx, which sets X-Forwarded-*: ingest URLs take the host and port clients used.
      expect(gateway.environment.HERALD_TRUST_PROXY).toBe('true');
      expect(gateway.init).toBe(true);
    }
    expect(compose.services.proxy.depends_on['gateway-1'].condition).toBe('service_healthy');
    expect(compose.services.proxy.volumes[0]).toBe('./nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(compose.volumes).toHaveProperty('pgdata');

    const nginx = readFileSync(repo('docker/nginx.conf'), 'utf8');
    expect(nginx).toMatch(
      /upstream herald \{[^}]*ip_hash;[^}]*server gateway-1:8080[^}]*server gateway-2:8080/s,
    );
    // Replicas recreated at another address are found again, which needs a zone, Docker's resolver and
    // an nginx of 1.27.3 or later.
    expect(nginx).toMatch(/upstream herald \{[^}]*zone herald [^}]*server gateway-1:8080 resolve /s);
    expect(nginx).toMatch(/^\s*resolver 127\.0\.0\.11 /m);
    const [major, minor] = /^nginx:(\d+)\.(\d+)/.exec(compose.services.proxy.image)!.slice(1).map(Number);
    expect(major! * 1000 + minor!).toBeGreaterThanOrEqual(1028);
    expect(nginx).toContain('proxy_set_header Upgrade $http_upgrade;');
    // The host with its port, which the gateway builds ingest URLs from.
    expect(nginx).toContain('proxy_set_header X-Forwarded-Host $http_host;');
    // The access log masks ingest tokens: its format names the masked URI, never the raw request line.
    const format = /log_format herald ([^;]*);/s.exec(nginx)?.[1] ?? '';
    expect(format).toContain('$loggable_uri');
    expect(format).not.toMatch(/\$request(_uri)?\b/);
    expect(nginx).toMatch(/access_log \S+ herald;/);
  });
});
