import { parseDuration } from '../core/duration.ts';
import { checkPositiveDuration } from './window-arguments.ts';
import type { Window } from './window.ts';
import { removeWhere, type Evictor, type TimestampedValue } from './evictor.ts';

/**
 * Keeps the elements of the last `windowMs` before the newest element: evicts every element with
 * `timestamp ≤ max(timestamps) − windowMs`. Does nothing when the elements carry no timestamps
 * (Flink checks the first element).
 */
export class TimeEvictor implements Evictor<unknown, Window> {
  private constructor(
    readonly windowMs: number,
    readonly doEvictAfter: boolean,
  ) {}

  static of(window: number | string, doEvictAfter = false): TimeEvictor {
    return new TimeEvictor(checkPositiveDuration(parseDuration(window, 'time evictor window'), 'time evictor window'), doEvictAfter);
  }

  evictBefore(elements: Array<TimestampedValue<unknown>>): void {
    if (!this.doEvictAfter) this.evict(elements);
  }

  evictAfter(elements: Array<TimestampedValue<unknown>>): void {
    if (this.doEvictAfter) this.evict(elements);
  }

  private evict(elements: Array<TimestampedValue<unknown>>): void {
    const first = elements[0];
    if (first === undefined || Number.isNaN(first.timestampMs)) return;
    let maxTimestampMs = Number.NEGATIVE_INFINITY;
    for (const element of elements) if (element.timestampMs > maxTimestampMs) maxTimestampMs = element.timestampMs;
    const cutoffMs = maxTimestampMs - this.windowMs;
    removeWhere(elements, (element) => element.timestampMs <= cutoffMs);
  }
}
