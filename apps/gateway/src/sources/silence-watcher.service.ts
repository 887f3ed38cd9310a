import { sourceSubject } from '@herald/events';
import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import { PeriodicTask } from '../common/periodic-task.js';
import { AdvisoryLock } from '../database/advisory-locks.js';
import { EventWriter } from '../events/event-writer.js';
import { fromNormalized } from '../events/new-event.js';

const CHECK_INTERVAL_MS = 30_000;

interface QuietSource {
  id: string;
  name: string;
  provider: string;
  silent_after_seconds: number;
  last_event_at: Date;
}

/**
 * Raises `herald.source.silent` once per quiet spell for each source with `silentAfterSeconds` that has
 * sent events before and has now been quiet that long. One instance checks at a time (try-lock).
 */
@Injectable()
export class SilenceWatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly task = new PeriodicTask(
    (now) => this.raiseAlerts(new Date(now)),
    0,
    (error) => this.logger.warn({ err: error }, 'silence check failed; the next check retries'),
  );

  constructor(
    private readonly dataSource: DataSource,
    private readonly writer: EventWriter,
    @InjectPinoLogger(SilenceWatcher.name) private readonly logger: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(CHECK_INTERVAL_MS);
  }

  onApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** Checks every watched source as of `now`; returns how many alerts were raised. */
  check(now = Date.now()): Promise<number> {
    return this.task.run(now);
  }

  private raiseAlerts(now: Date): Promise<number> {
    return this.dataSource.transaction(async (tx) => {
      const [{ locked }] = await tx.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [
        AdvisoryLock.silenceWatch,
      ]);
      if (!locked) return 0;
      // The last event a source itself sent (Herald's own events about it do not count).
      const quiet: QuietSource[] = await tx.query(
        `SELECT s.id, s.name, s.provider, s.silent_after_seconds, last.received_at AS last_event_at
         FROM sources s
         CROSS JOIN LATERAL (
           SELECT received_at FROM events e
           WHERE e.source_id = s.id AND e.provider <> 'herald' ORDER BY seq DESC LIMIT 1
         ) last
         LEFT JOIN source_silence_alerts a ON a.source_id = s.id
         WHERE s.enabled AND s.silent_after_seconds IS NOT NULL
           AND last.received_at < $1::timestamptz - make_interval(secs => s.silent_after_seconds)
           AND (a.last_event_at IS NULL OR a.last_event_at < last.received_at)`,
        [now],
      );
      if (quiet.length === 0) return 0;
      await this.writer.append(
        quiet.map((source) =>
          fromNormalized(
            {
              type: 'herald.source.silent',
              subject: sourceSubject(source.id),
              data: {
                sourceId: source.id,
                sourceName: source.name,
                provider: source.provider,
                lastEventAt: source.last_event_at.toISOString(),
                silentForSeconds: Math.floor((now.getTime() - source.last_event_at.getTime()) / 1000),
                silentAfterSeconds: source.silent_after_seconds,
              },
            },
            { sourceId: source.id, provider: source.provider },
            now,
          ),
        ),
      );
      await tx.query(
        `INSERT INTO source_silence_alerts (source_id, last_event_at, alerted_at)
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) AS q(source_id, last_event_at), (SELECT $3::timestamptz) n
         ON CONFLICT (source_id) DO UPDATE SET last_event_at = EXCLUDED.last_event_at, alerted_at = EXCLUDED.alerted_at`,
        [quiet.map((s) => s.id), quiet.map((s) => s.last_event_at), now],
      );
      return quiet.length;
    });
  }
}
