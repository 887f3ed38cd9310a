import { Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ErrorCode } from '../common/errors/error-code.js';
import { toProblem } from '../common/errors/problem.js';
import { LogThrottle } from '../common/log-throttle.js';
import { MetricsService, UNKNOWN_PROVIDER } from '../metrics/metrics.service.js';
import { SourcesService } from '../sources/sources.service.js';

/** One line per source and code per minute: enough to debug a secret mismatch, not a flood. */
const WINDOW_MS = 60_000;
const REASON_CHARS = 200;
const SOURCE_ID_CHARS = 64;

/** An operator must notice these: a provider that does not sign as its source expects loses events. */
const AUTH_FAILURES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.Unauthorized,
  ErrorCode.MissingSignature,
  ErrorCode.InvalidSignature,
]);

/** Wall time for the log's windows, so a test can move it forward. */
@Injectable()
export class IngestRefusalClock {
  now(): number {
    return Date.now();
  }
}

/**
 * Counts every webhook the gateway does not accept, in `herald_ingest_requests_total` (`refused` for a
 * 4xx, `failed` for the gateway's own 5xx), and logs each refusal: without the log, a provider whose
 * requests are all refused leaves only the metric. Never logs the URL (it holds the ingest token) nor
 * the body.
 */
@Injectable()
export class IngestRefusals {
  private readonly throttle: LogThrottle;

  constructor(
    private readonly sources: SourcesService,
    private readonly metrics: MetricsService,
    clock: IngestRefusalClock,
    @InjectPinoLogger(IngestRefusals.name) private readonly logger: PinoLogger,
  ) {
    this.throttle = new LogThrottle(WINDOW_MS, clock);
  }

  /** Never rejects: a refusal is answered whether or not it could be counted and logged. */
  async record(sourceId: string, error: unknown): Promise<void> {
    // The problem the client gets, from the one mapping.
    const { problem } = toProblem(error);
    // Once the handler has run, the source is in the catalog's cache; only a 413 from the body parser,
    // which comes before it, may have to read it.
    const source = await this.sources.lookup(sourceId).catch(() => null);
    this.metrics.ingestRequests.inc({
      provider: source?.provider ?? UNKNOWN_PROVIDER,
      outcome: problem.status >= 500 ? 'failed' : 'refused',
    });
    // 5xx are the gateway's failures, logged where they happen, not refusals.
    if (problem.status >= 500) return;
    // A source that does not exist has an id its caller made up: all of them share one key, so
    // guessing ids cannot write a line per guess.
    const admitted = this.throttle.admit(`${source?.id ?? 'unknown'}:${problem.code}`);
    if (!admitted) return;
    const fields = {
      sourceId: source?.id ?? sourceId.slice(0, SOURCE_ID_CHARS),
      provider: source?.provider ?? null,
      status: problem.status,
      code: problem.code,
      reason: problem.detail.slice(0, REASON_CHARS),
      suppressed: admitted.suppressed,
    };
    if (AUTH_FAILURES.has(problem.code)) this.logger.warn(fields, 'ingest request refused');
    else this.logger.info(fields, 'ingest request refused');
  }
}
