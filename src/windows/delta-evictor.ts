import { ConfigurationError } from '../core/errors.ts';
import type { Window } from './window.ts';
import { removeWhere, type Evictor, type TimestampedValue } from './evictor.ts';

/** Distance between two elements, for {@link DeltaEvictor}. */
export type DeltaFunction<T> = (oldValue: T, newValue: T) => number;

/** Evicts every element whose delta to the *last* element is ≥ `threshold`. */
export class DeltaEvictor<T> implements Evictor<T, Window> {
  private constructor(
    readonly threshold: number,
    private readonly deltaFunction: DeltaFunction<T>,
    readonly doEvictAfter: boolean,
  ) {}

  static of<T>(threshold: number, deltaFunction: DeltaFunction<T>, doEvictAfter = false): DeltaEvictor<T> {
    if (!Number.isFinite(threshold)) throw new ConfigurationError(`delta evictor: the threshold must be a finite number, got ${threshold}`);
    if (typeof deltaFunction !== 'function') throw new ConfigurationError('delta evictor needs a delta function (oldValue, newValue) => number');
    return new DeltaEvictor(threshold, deltaFunction, doEvictAfter);
  }

  evictBefore(elements: Array<TimestampedValue<T>>): void {
    if (!this.doEvictAfter) this.evict(elements);
  }

  evictAfter(elements: Array<TimestampedValue<T>>): void {
    if (this.doEvictAfter) this.evict(elements);
  }

  private evict(elements: Array<TimestampedValue<T>>): void {
    const last = elements[elements.length - 1];
    if (last === undefined) return;
    removeWhere(elements, (element) => this.deltaFunction(element.value, last.value) >= this.threshold);
  }
}
