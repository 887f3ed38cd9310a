import { type CompiledFilter, compileFilter, type EventFilter, typePatternToRegex } from '@herald/events';

/** One `subscribe` of one socket: its filter, and how far it has been served. */
export class Subscription {
  readonly filter: CompiledFilter;
  readonly typeRegexes: string[] | undefined;
  readonly sourceIds: string[] | undefined;
  /** Every matching event with seq ≤ cursor has been sent (or was not wanted). */
  cursor: bigint;
  /** The highest seq the client knows this subscription reached: its last event, or a `position`. */
  announced: bigint;
  /** False while stored events are being replayed; live events are then left to the replay. */
  live = false;
  cancelled = false;

  constructor(
    readonly id: string,
    filter: EventFilter,
    cursor: bigint,
  ) {
    this.filter = compileFilter(filter);
    this.typeRegexes = filter.types?.length ? filter.types.map(typePatternToRegex) : undefined;
    this.sourceIds = filter.sources?.length ? [...filter.sources] : undefined;
    this.cursor = cursor;
    this.announced = cursor;
  }
}
