import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../state/descriptors.ts';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../state/state.ts';
import type { Window } from './window.ts';

/**
 * What a trigger decides for a window (Flink's TriggerResult): `fire` emits the window's contents and
 * keeps them; `purge` drops them; `fire-and-purge` does both; `continue` does nothing. Purging drops
 * the contents only: trigger state, timers and the window's cleanup timer stay.
 */
export type TriggerResult = 'continue' | 'fire' | 'purge' | 'fire-and-purge';

/** Whether the window function runs for this result (`fire` or `fire-and-purge`). */
export function isFire(result: TriggerResult): boolean {
  return result === 'fire' || result === 'fire-and-purge';
}

/** Whether the window's contents are cleared for this result (`purge` or `fire-and-purge`). */
export function isPurge(result: TriggerResult): boolean {
  return result === 'purge' || result === 'fire-and-purge';
}

/**
 * What a trigger may do, scoped to the current key and the window it is called for: timers (which call
 * the trigger back with that window) and per-window trigger state.
 */
export interface TriggerContext {
  currentProcessingTime(): number;
  currentWatermark(): number;
  registerEventTimeTimer(timestampMs: number): void;
  deleteEventTimeTimer(timestampMs: number): void;
  registerProcessingTimeTimer(timestampMs: number): void;
  deleteProcessingTimeTimer(timestampMs: number): void;
  /** Trigger state of the current key and window. Clear it in `clear`. */
  getPartitionedState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getPartitionedState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getPartitionedState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getPartitionedState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getPartitionedState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
}

/** The context of `onMerge`: the trigger state of the merged windows can be folded into the result. */
export interface OnMergeContext extends TriggerContext {
  /** Merges this state of every merged window into the result window (list, reducing or aggregating state). */
  mergePartitionedState<T>(descriptor: ListStateDescriptor<T>): void;
  mergePartitionedState<T>(descriptor: ReducingStateDescriptor<T>): void;
  mergePartitionedState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): void;
}

/**
 * Decides when a window fires and when its contents are purged. Called with the backend scoped to the
 * element's (or timer's) key. A trigger must keep everything it needs in `ctx` state and timers, never
 * in its own fields: one trigger object serves every key and window, and only state is snapshotted.
 */
export interface Trigger<T, W extends Window> {
  onElement(element: T, timestampMs: number, window: W, ctx: TriggerContext): TriggerResult;
  onEventTime(timeMs: number, window: W, ctx: TriggerContext): TriggerResult;
  onProcessingTime(timeMs: number, window: W, ctx: TriggerContext): TriggerResult;
  /** True if this trigger supports merging windows (required by session windows). */
  canMerge(): boolean;
  /** `window` is the merge result; re-register timers and merge state of `ctx`'s merged windows. */
  onMerge(window: W, ctx: OnMergeContext): void;
  /** The window is being cleaned up: delete the timers and state this trigger created for it. */
  clear(window: W, ctx: TriggerContext): void;
}
