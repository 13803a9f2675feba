/**
 * Windows: Flink's windowing semantics over keyed streams.
 *
 * An **assigner** puts each element into windows (tumbling, sliding, session, global; event or
 * processing time; optional offset). A **trigger** decides when a window fires (event time by default,
 * processing time, count, continuous early firings, purging, or custom) and an optional **evictor**
 * trims its contents around a firing. The **window function** computes the result incrementally
 * (reduce / aggregate), from all elements (process), or both. {@link WindowOperator} runs it all on a
 * keyed state backend; session windows merge through a {@link MergingWindowSet}.
 *
 * Invariants (Flink's rules):
 * - a time window is `[start, end)` with `maxTimestamp = end − 1`; aligned starts satisfy
 *   `start ≡ offset (mod slide)`, also for negative timestamps;
 * - session windows `[ts, ts + gap)` merge when they overlap or touch;
 * - an event-time window is late once `maxTimestamp + allowedLateness ≤ watermark` (saturating), and
 *   its state is cleaned up at that time; an element is late when `ts + allowedLateness ≤ watermark`;
 *   an element late for all its windows goes to the late-data side output, or is dropped — always
 *   counted in the operator's metrics;
 * - results carry the timestamp `window.maxTimestamp()` and a firing kind (early / on-time / late);
 * - all window state (contents, trigger state, merging sets, timers) lives in the keyed backend, so a
 *   snapshot taken between any two inputs restores to the same future output.
 */
export type { Window } from './window.ts';
export { TimeWindow, getWindowStartWithOffset, mergeTimeWindows, timeWindowCodec } from './time-window.ts';
export { GlobalWindow, globalWindowCodec } from './global-window.ts';
export type {
  MergeCallback,
  MergingWindowAssigner,
  NonMergingWindowAssigner,
  WindowAssigner,
  WindowAssignerContext,
} from './window-assigner.ts';
export { TumblingEventTimeWindows } from './tumbling-event-time-windows.ts';
export { TumblingProcessingTimeWindows } from './tumbling-processing-time-windows.ts';
export { SlidingEventTimeWindows, assignSlidingWindows } from './sliding-event-time-windows.ts';
export { SlidingProcessingTimeWindows } from './sliding-processing-time-windows.ts';
export { EventTimeSessionWindows } from './event-time-session-windows.ts';
export { ProcessingTimeSessionWindows } from './processing-time-session-windows.ts';
export type { SessionGapExtractor } from './session-gap.ts';
export { GlobalWindows } from './global-windows.ts';
export { isFire, isPurge } from './trigger.ts';
export type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from './trigger.ts';
export { EventTimeTrigger } from './event-time-trigger.ts';
export { ProcessingTimeTrigger } from './processing-time-trigger.ts';
export { CountTrigger } from './count-trigger.ts';
export { ContinuousEventTimeTrigger } from './continuous-event-time-trigger.ts';
export { ContinuousProcessingTimeTrigger } from './continuous-processing-time-trigger.ts';
export { PurgingTrigger } from './purging-trigger.ts';
export { NeverTrigger } from './never-trigger.ts';
export type { Evictor, EvictorContext, TimestampedValue } from './evictor.ts';
export { CountEvictor } from './count-evictor.ts';
export { TimeEvictor } from './time-evictor.ts';
export { DeltaEvictor, type DeltaFunction } from './delta-evictor.ts';
export { MergingWindowSet, type MergeFunction } from './merging-window-set.ts';
export type { Collector } from '../core/collector.ts';
export type { KeyedStateStore } from './keyed-state-store.ts';
export {
  aggregateWindow,
  processWindow,
  reduceWindow,
  type FiringKind,
  type ProcessWindowContext,
  type ProcessWindowFunction,
  type WindowFunctionSpec,
} from './process-window-function.ts';
export { WindowOperator, type WindowOperatorOptions } from './window-operator.ts';
