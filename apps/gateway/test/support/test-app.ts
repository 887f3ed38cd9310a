import { randomBytes } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import pino, { type Logger } from 'pino';
import { createHeraldLogger } from '../../src/common/herald-logger.js';
import { loadConfig } from '../../src/config/herald-config.js';
import { createApp } from '../../src/create-app.js';
import { createTestDatabase } from './test-database.js';

export interface TestApp {
  app: NestFastifyApplication;
  baseUrl: string;
  databaseUrl: string;
  adminToken: string;
  close(): Promise<void>;
}

/** Boots the real gateway (Fastify, real Postgres, real migrations) on 127.0.0.1 and a random port. */
export async function startTestApp(
  env: Record<string, string> = {},
  databaseUrl?: string,
  port = 0,
  /** Replaces the silent logger, e.g. with `capturedLogs().logger` to assert what is logged. */
  logger: Logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
): Promise<TestApp> {
  const adminToken = `hrld_test_${randomBytes(16).toString('hex')}`;
  const url = databaseUrl ?? (await createTestDatabase());
  const config = loadConfig({
    HERALD_ADMIN_TOKEN: adminToken,
    HERALD_ALLOW_PRIVATE_TARGETS: 'true',
    ...env,
    DATABASE_URL: url,
    HOST: '127.0.0.1',
  });
  const app = await createApp(config, logger);
  await app.listen({ port, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  const bound = typeof address === 'object' && address ? address.port : 0;
  return {
    app,
    baseUrl: `http://127.0.0.1:${bound}`,
    databaseUrl: url,
    adminToken,
    close: () => app.close(),
  };
}

/** A logger at `info` whose lines are kept, parsed, instead of printed. */
export function capturedLogs(): {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  /** The lines as written (JSON.parse keeps one of two equal keys). */
  text: string[];
} {
  const lines: Array<Record<string, unknown>> = [];
  const text: string[] = [];
  const logger = createHeraldLogger(
    { level: 'info' },
    {
      write: (line: string) => {
        text.push(line);
        lines.push(JSON.parse(line));
      },
    },
  );
  return { logger, lines, text };
}
