import { ConfigurationError } from '../core/errors.ts';
import type { Window } from './window.ts';
import type { Evictor, TimestampedValue } from './evictor.ts';

/** Keeps at most `maxCount` elements: the newest ones (evicts from the beginning of the window). */
export class CountEvictor implements Evictor<unknown, Window> {
  private constructor(
    readonly maxCount: number,
    readonly doEvictAfter: boolean,
  ) {}

  /** Evicts before the window function by default; after it when `doEvictAfter`. */
  static of(maxCount: number, doEvictAfter = false): CountEvictor {
    if (!Number.isInteger(maxCount) || maxCount < 0) {
      throw new ConfigurationError(`count evictor: the count to keep must be a whole number ≥ 0, got ${maxCount}`);
    }
    return new CountEvictor(maxCount, doEvictAfter);
  }

  evictBefore(elements: Array<TimestampedValue<unknown>>): void {
    if (!this.doEvictAfter) this.evict(elements);
  }

  evictAfter(elements: Array<TimestampedValue<unknown>>): void {
    if (this.doEvictAfter) this.evict(elements);
  }

  private evict(elements: Array<TimestampedValue<unknown>>): void {
    if (elements.length > this.maxCount) elements.splice(0, elements.length - this.maxCount);
  }
}
