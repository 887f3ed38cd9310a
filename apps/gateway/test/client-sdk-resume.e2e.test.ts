import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type HeraldClient, type HeraldClientError, type HeraldEvent } from '@herald/client';
import pg from 'pg';
import { freePort } from '../src/database/embedded-postgres.js';
import { apiClient, eventually } from './support/http.js';
import { connectSocket, type RawSubscriber, subscribe } from './support/sockets.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/**
 * @herald/client resuming after retention removed events it had not been sent: a subscription whose
 * filter matches rarely must survive that, and a resume point that did expire must not end it.
 */
describe('@herald/client resuming across retention', () => {
  let port: number;
  let herald: TestApp;
  let databaseUrl: string;
  /** A key of its own: the admin token is new with every start. */
  let token: string;
  let client: HeraldClient | undefined;
  let raw: RawSubscriber | undefined;

  const publish = async (type: string) => {
    const response = await apiClient(herald.baseUrl, token)('POST', '/v1/events', {
      body: { type },
    });
    expect(response.status).toBe(201);
    return response.body as HeraldEvent;
  };
  /** What retention leaves behind: the events through `seq` gone, and cursors before it expired. */
  const purgeThrough = async (seq: string) => {
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await db.query('DELETE FROM events WHERE seq <= $1', [seq]);
      await db.query('UPDATE event_log_retention SET purged_through_seq = $1 WHERE id = 1', [seq]);
    } finally {
      await db.end();
    }
  };
  /** Stops the gateway, runs `whileDown`, and starts it again on the same port: every client resumes. */
  const restart = async (whileDown: () => Promise<void>) => {
    await herald.close();
    await whileDown();
    herald = await startTestApp({}, databaseUrl, port);
  };

  /** A client subscribed to `types`, with what it reports and receives. */
  const subscribeClient = async (types: string[]) => {
    client = connect({ url: herald.baseUrl, token, reconnectionDelayMaxMs: 300 });
    const errors: HeraldClientError[] = [];
    client.on('error', (error) => errors.push(error));
    const disconnects: string[] = [];
    client.on('disconnected', (reason) => disconnects.push(reason));
    const received: HeraldEvent[] = [];
    const subscription = client.subscribe({ types }, (event) => void received.push(event));
    await subscription.ready;
    return { errors, received, disconnects, subscription };
  };

  beforeAll(async () => {
    port = await freePort();
    herald = await startTestApp({}, undefined, port);
    databaseUrl = herald.databaseUrl;
    token = (
      await apiClient(herald.baseUrl, herald.adminToken)('POST', '/v1/api-keys', {
        body: { name: 'resume', scopes: ['subscribe', 'publish'] },
      })
    ).body.token;
  });
  afterEach(() => {
    client?.close();
    raw?.close();
  });
  afterAll(() => herald.close());

  it('resumes a quiet subscription from the position the server announced, past events retention removed', async () => {
    const { errors, received, disconnects, subscription } = await subscribeClient(['quiet.*']);
    // A raw subscriber with the same filter shows when the server announces positions (the same sweep).
    raw = await connectSocket(herald.baseUrl, token);
    const positions: string[] = [];
    raw.on('position', ({ seq }) => positions.push(seq));
    expect(await subscribe(raw, { types: ['quiet.*'] })).toMatchObject({ ok: true });

    const noisy = [await publish('noisy.a'), await publish('noisy.b')];
    const last = noisy[1]!.seq;
    await eventually(() => expect(positions).toContain(last), 15_000);
    // The cursor to persist follows the announced position: nothing before it is left to handle.
    await eventually(() => expect(subscription.cursor).toBe(last));
    await restart(() => purgeThrough(last));

    const ping = await publish('quiet.ping');
    await eventually(() => expect(received.map((e) => e.id)).toEqual([ping.id]), 15_000);
    // Its reconnects while the gateway was down are reported; nothing else is.
    expect(errors.filter((error) => error.code !== 'connection_failed')).toEqual([]);
    // The server said why it closed the connection, and the client passes that on.
    expect(disconnects).toEqual(['shutting_down']);
  });

  it('goes on from the oldest event kept, reporting cursor_expired, when its resume point did expire', async () => {
    const { errors, received } = await subscribeClient(['lost.*']);
    const first = await publish('lost.first');
    await eventually(() => expect(received).toHaveLength(1));

    // While the client was away: an event after its resume point that retention removed (with every
    // event before it), and one after that it kept.
    let kept!: string;
    await restart(async () => {
      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      const insert = (type: string) =>
        db.query<{ seq: string; id: string }>(
          `INSERT INTO events (seq, id, type, source_id, provider, subject, time, received_at, data)
           VALUES (nextval('event_seq'), gen_random_uuid(), $1, gen_random_uuid(), 'herald',
                   NULL, now(), now(), '{}') RETURNING seq, id`,
          [type],
        );
      try {
        const missed = (await insert('lost.missed')).rows[0]!;
        kept = (await insert('lost.kept')).rows[0]!.id;
        await purgeThrough(missed.seq);
      } finally {
        await db.end();
      }
    });

    await eventually(() => expect(errors.map((error) => error.code)).toContain('cursor_expired'), 15_000);
    expect(errors.find((error) => error.code === 'cursor_expired')?.message).toMatch(
      /may have been missed, continuing with the oldest event kept/,
    );
    const later = await publish('lost.later');
    await eventually(() => expect(received.map((e) => e.id)).toEqual([first.id, kept, later.id]));
  });
});
