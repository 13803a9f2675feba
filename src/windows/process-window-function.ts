import type { OutputTag } from '../core/output-tag.ts';
import type { AggregateFunction } from '../state/descriptors.ts';
import type { Collector } from '../core/collector.ts';
import type { KeyedStateStore } from './keyed-state-store.ts';
import type { Window } from './window.ts';

/**
 * Why a window fired. For event-time windows, judged at the timestamp of the event-time timer that
 * fired it, or at the current watermark when an element (or another timer) did:
 * - `early`: before `window.maxTimestamp()` (continuous, count or custom triggers);
 * - `on-time`: the first timer firing at or after the window's end (the watermark passed it);
 * - `late`: every later firing, and any firing caused by an element that arrived after the watermark
 *   passed the window's end (within the allowed lateness).
 * Processing-time windows: `early` before their end on the clock, else `on-time`; global windows
 * (which never end) always fire `on-time`.
 */
export type FiringKind = 'early' | 'on-time' | 'late';

/** What a window function sees of its firing; one object reused across firings, valid during the call. */
export interface ProcessWindowContext<W extends Window> {
  readonly window: W;
  readonly firingKind: FiringKind;
  currentWatermark(): number;
  currentProcessingTime(): number;
  /** State of the current key *and window*; cleared in `clear` (not available for merging windows). */
  readonly windowState: KeyedStateStore;
  /** State of the current key, shared by all its windows. */
  readonly globalState: KeyedStateStore;
  /** Emits to a side output, stamped with `window.maxTimestamp()`. */
  output<S>(tag: OutputTag<S>, value: S): void;
}

/**
 * A window function over all elements of a firing (or the single pre-aggregated value when combined
 * with reduce/aggregate). Results are stamped with `window.maxTimestamp()`.
 */
export interface ProcessWindowFunction<IN, OUT, K, W extends Window> {
  process(key: K, context: ProcessWindowContext<W>, elements: readonly IN[], out: Collector<OUT>): void;
  /** The window is being cleaned up: clear what was kept in `context.windowState`. */
  clear?(context: ProcessWindowContext<W>): void;
}

/**
 * How a window computes its result:
 * - `reduce`: incremental, one value per window (kept as reducing state); optionally passed to `process`;
 * - `aggregate`: incremental via an accumulator; its result optionally passed to `process`;
 * - `process`: all elements buffered (list state) and given to `process` on firing.
 * Build one with {@link reduceWindow}, {@link aggregateWindow} or {@link processWindow} for typing.
 */
export type WindowFunctionSpec<IN, OUT, K, W extends Window> =
  | {
      readonly kind: 'reduce';
      readonly reduce: (a: IN, b: IN) => IN;
      readonly process: ProcessWindowFunction<IN, OUT, K, W> | undefined;
    }
  | {
      readonly kind: 'aggregate';
      readonly aggregate: AggregateFunction<IN, unknown, unknown>;
      readonly process: ProcessWindowFunction<unknown, OUT, K, W> | undefined;
    }
  | { readonly kind: 'process'; readonly process: ProcessWindowFunction<IN, OUT, K, W> };

/** Incremental reduce: the window keeps one value, combined as elements arrive, and emits it on firing. */
export function reduceWindow<IN, K = unknown, W extends Window = Window>(reduce: (a: IN, b: IN) => IN): WindowFunctionSpec<IN, IN, K, W>;
/** Incremental reduce whose single result is passed to `process` on firing (with the window and key). */
export function reduceWindow<IN, OUT, K, W extends Window>(
  reduce: (a: IN, b: IN) => IN,
  process: ProcessWindowFunction<IN, OUT, K, W>,
): WindowFunctionSpec<IN, OUT, K, W>;
export function reduceWindow<IN, OUT, K, W extends Window>(
  reduce: (a: IN, b: IN) => IN,
  process?: ProcessWindowFunction<IN, OUT, K, W>,
): WindowFunctionSpec<IN, OUT, K, W> {
  return { kind: 'reduce', reduce, process };
}

/**
 * Incremental aggregation: the window keeps one accumulator and emits `getResult` on firing. Merging windows
 * (sessions) need `aggregate.merge`.
 */
export function aggregateWindow<IN, ACC, R, K = unknown, W extends Window = Window>(
  aggregate: AggregateFunction<IN, ACC, R>,
): WindowFunctionSpec<IN, R, K, W>;
/** Incremental aggregation whose result is passed to `process` on firing. */
export function aggregateWindow<IN, ACC, R, OUT, K, W extends Window>(
  aggregate: AggregateFunction<IN, ACC, R>,
  process: ProcessWindowFunction<R, OUT, K, W>,
): WindowFunctionSpec<IN, OUT, K, W>;
export function aggregateWindow<IN, ACC, R, OUT, K, W extends Window>(
  aggregate: AggregateFunction<IN, ACC, R>,
  process?: ProcessWindowFunction<R, OUT, K, W>,
): WindowFunctionSpec<IN, OUT, K, W> {
  return {
    kind: 'aggregate',
    aggregate: aggregate as AggregateFunction<IN, unknown, unknown>,
    process: process as ProcessWindowFunction<unknown, OUT, K, W> | undefined,
  };
}

/**
 * Buffers every element of the window (list state, O(elements) memory) and passes them all to `process` on
 * firing.
 */
export function processWindow<IN, OUT, K, W extends Window>(
  process: ProcessWindowFunction<IN, OUT, K, W>,
): WindowFunctionSpec<IN, OUT, K, W> {
  return { kind: 'process', process };
}
