import type { Window } from './window.ts';

/** An element in an evicting window: its value and event timestamp (NaN if it has none). */
export interface TimestampedValue<T> {
  readonly value: T;
  readonly timestampMs: number;
}

/** What an evictor may read: the clocks, in epoch ms. */
export interface EvictorContext {
  currentProcessingTime(): number;
  currentWatermark(): number;
}

/**
 * Removes elements from a window's contents when it fires, before and/or after the window function
 * runs (Flink's Evictor). `elements` is the window's contents in insertion order; an evictor removes
 * elements **in place** (keeping the order of the rest). The survivors are what the window keeps. A
 * window with an evictor keeps every element (a list), so reduce/aggregate run at firing time.
 */
export interface Evictor<T, W extends Window> {
  evictBefore(elements: Array<TimestampedValue<T>>, window: W, ctx: EvictorContext): void;
  evictAfter(elements: Array<TimestampedValue<T>>, window: W, ctx: EvictorContext): void;
}

/** Removes, in place, the elements for which `shouldEvict` holds. O(n). */
export function removeWhere<T>(elements: Array<TimestampedValue<T>>, shouldEvict: (element: TimestampedValue<T>) => boolean): void {
  let kept = 0;
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i]!;
    if (!shouldEvict(element)) elements[kept++] = element;
  }
  elements.length = kept;
}
