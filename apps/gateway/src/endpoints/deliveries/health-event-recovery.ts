import { type BeforeApplicationShutdown, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { PeriodicTask } from '../../common/periodic-task.js';
import type { NewEvent } from '../../events/event-record.js';
import { EventWriter } from '../../events/event-writer.js';
import { EndpointRepository } from '../endpoint.repository.js';
import { disableReason, SUSTAINED_FAILURE_MS } from './delivery-outcomes.js';
import { DeliveryRepository, type FailureToReport } from './delivery.repository.js';
import { deliveryFailingEvent, endpointDisabledEvent } from './endpoint-health-events.js';

const RECOVERY_INTERVAL_MS = 30_000;
/**
 * A mark younger than this is left alone: the outcome's own append follows its commit within
 * milliseconds, and a disabling clears the mark of the failure that caused it just after that commit.
 */
const REPORT_GRACE_MS = 10_000;
/** Marks read, reported and cleared at a time. */
const RECOVERY_BATCH = 500;

const failingEvent = (failure: FailureToReport, now: Date): NewEvent[] => {
  const { url, eventId, eventType } = failure;
  // The endpoint or the event is gone (deleted, retention): nobody is left to hear of the failure.
  if (url === null || eventId === null || eventType === null) return [];
  return [
    deliveryFailingEvent(
      { ...failure, url, eventId, eventType },
      { responseStatus: failure.lastResponseStatus, error: failure.lastError },
      { at: failure.failedAt, now },
    ),
  ];
};

/**
 * Appends the `herald.delivery.failing` and `herald.endpoint.disabled` events whose append after the
 * outcome was lost (the database refused it, the process died between the two commits), at start-up
 * and every RECOVERY_INTERVAL_MS. Each cause committed a mark with itself; recovery reports every
 * mark with the dedup key the first append used, so an event that append did store is only found
 * again, then clears the marks. Marks are cleared only after the events are stored, so a round that
 * fails leaves them for the next one.
 * No lock between instances: two rounds reading the same marks append the same keys, and the
 * events table keeps one event per key.
 */
@Injectable()
export class HealthEventRecovery implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly task = new PeriodicTask(
    (now) => this.recoverAll(new Date(now)),
    0,
    (error) => this.logger.warn({ err: error }, 'health event recovery failed; the next round retries'),
  );

  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly endpoints: EndpointRepository,
    private readonly writer: EventWriter,
    @InjectPinoLogger(HealthEventRecovery.name) private readonly logger: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(RECOVERY_INTERVAL_MS, 0);
  }

  /** Before the event writer and the database close, which a round in progress still needs. */
  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** Redoes lost disablings, then reports the marks older than REPORT_GRACE_MS; returns how many reports were new. */
  private async recoverAll(now: Date): Promise<number> {
    const before = new Date(now.getTime() - REPORT_GRACE_MS);
    const stored =
      (await this.disableMissed(now)) +
      (await this.recoverMarks(
        () => this.deliveries.failuresToReport(before, RECOVERY_BATCH),
        (failure) => failingEvent(failure, now),
        (failures) => this.deliveries.failuresReported(failures),
      )) +
      (await this.recoverMarks(
        () => this.endpoints.disablesToReport(before, RECOVERY_BATCH),
        (disable) => [endpointDisabledEvent(disable, disable.reason, { at: disable.at, now })],
        (disables) => this.endpoints.disablesReported(disables),
      ));
    if (stored > 0) this.logger.warn({ stored }, 'appended health events whose first append was lost');
    return stored;
  }

  /**
   * Disables the endpoints whose disabling was lost with the process that should have made it (it died
   * between an attempt's commit and the disable), and reports each at once; returns how many reports
   * were new. A report that fails stays marked, for a later round.
   */
  private async disableMissed(now: Date): Promise<number> {
    const missed = await this.endpoints.missedDisables(
      new Date(now.getTime() - SUSTAINED_FAILURE_MS),
      SUSTAINED_FAILURE_MS,
    );
    let stored = 0;
    for (const { id, gone, failingSince } of missed) {
      const reason = disableReason(gone ? { gone: true } : { failingSince: failingSince! });
      const endpoint = await this.endpoints.disable(id, reason, now);
      if (!endpoint) continue;
      this.logger.warn(
        { endpointId: id, reason },
        'endpoint disabled by recovery; its disabling had been lost',
      );
      stored += await this.store([endpointDisabledEvent(endpoint, reason, { at: now, now })]);
    }
    return stored;
  }

  /** Reads, reports and clears marks a batch at a time; returns how many events were new. */
  private async recoverMarks<Mark>(
    read: () => Promise<Mark[]>,
    events: (mark: Mark) => NewEvent[],
    clear: (marks: Mark[]) => Promise<number>,
  ): Promise<number> {
    let stored = 0;
    for (;;) {
      const marks = await read();
      if (marks.length === 0) return stored;
      stored += await this.store(marks.flatMap(events));
      const cleared = await clear(marks);
      // A mark a later change set meanwhile stays and would be read again: a batch that cleared none ends.
      if (marks.length < RECOVERY_BATCH || cleared === 0) return stored;
    }
  }

  private async store(events: NewEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const appended = await this.writer.append(events);
    return appended.filter((result) => !result.duplicate).length;
  }
}
