import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { poolOptions } from '../src/database/database.module.js';

/** One backend message: its type byte, its length (itself included), its body. */
function message(type: string, body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([Buffer.from(type), length, body]);
}

const fields = (entries: Record<string, string>): Buffer =>
  Buffer.from([...Object.entries(entries).map(([code, value]) => `${code}${value}\0`), '\0'].join(''));

/**
 * What a backend sends when its postmaster is killed just as the connection becomes ready: the
 * authentication, ReadyForQuery and the FATAL error arrive in one read.
 */
const READY_THEN_FATAL = Buffer.concat([
  message('R', Buffer.from([0, 0, 0, 0])),
  message('Z', Buffer.from('I')),
  message(
    'E',
    fields({
      S: 'FATAL',
      V: 'FATAL',
      C: '57P01',
      M: 'terminating connection due to unexpected postmaster exit',
    }),
  ),
]);

describe("the gateway's Postgres pool", () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((socket) => socket.once('data', () => socket.end(READY_THEN_FATAL)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    url = `postgres://herald:herald@127.0.0.1:${address.port}/herald`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('survives a connection that fails in the read that makes it ready, failing only its query', async () => {
    const pool = new pg.Pool(poolOptions(url));
    // TypeORM listens on its pool like this.
    pool.on('error', () => undefined);
    try {
      // Awaited, as TypeORM's query runners and HeldConnection do: the error came before they could listen.
      const client = await pool.connect();
      await expect(client.query('SELECT 1')).rejects.toThrow('not queryable');
      client.release();
      expect(pool.totalCount).toBe(0);
    } finally {
      await pool.end();
    }
  });
});
