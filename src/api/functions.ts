import type { Collector } from '../core/collector.ts';
import type { OutputTag } from '../core/output-tag.ts';
import type { TimerService } from '../time/timer-service.ts';
import type { KeyedStateStore } from '../windows/keyed-state-store.ts';

/**
 * The user-function contracts. A function object is shared by the graph, but each subtask works on its
 * own instance: Eddy derives one per subtask with `Object.create(fn)`, so fields assigned in `open`
 * (state handles, caches) belong to that subtask. Keep per-key data in state, not in fields: only
 * state is checkpointed and redistributed on rescale.
 */

export interface RuntimeContext {
  readonly operatorUid: string;
  readonly subtask: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
}

/** Access to keyed state by descriptor (the same interface windows use for per-window state). */
export type { KeyedStateStore };

export interface KeyedRuntimeContext extends RuntimeContext, KeyedStateStore {}

export interface ProcessContext {
  /** Event time of the current record (NaN when it has none). */
  readonly timestamp: number;
  /** The operator's current watermark. */
  readonly currentWatermark: number;
  readonly currentProcessingTime: number;
  /** Emits to a side output, with the current record's timestamp. */
  output<S>(tag: OutputTag<S>, value: S): void;
}

export interface KeyedProcessContext<K> extends ProcessContext {
  readonly currentKey: K;
  readonly timerService: TimerService;
}

export type TimeDomain = 'event-time' | 'processing-time';

export interface OnTimerContext<K> extends KeyedProcessContext<K> {
  readonly timeDomain: TimeDomain;
}

export interface ProcessFunction<IN, OUT> {
  open?(context: RuntimeContext): void;
  processElement(value: IN, context: ProcessContext, out: Collector<OUT>): void;
  close?(): void;
}

/** Per-key logic with state and timers (Flink's KeyedProcessFunction). */
export interface KeyedProcessFunction<K, IN, OUT> {
  open?(context: KeyedRuntimeContext): void;
  processElement(value: IN, context: KeyedProcessContext<K>, out: Collector<OUT>): void;
  /** A timer of the current key fired; output carries the timer's timestamp. */
  onTimer?(timestampMs: number, context: OnTimerContext<K>, out: Collector<OUT>): void;
  close?(): void;
}

/** Two inputs, shared keyed state and timers (Flink's KeyedCoProcessFunction). */
export interface KeyedCoProcessFunction<K, IN1, IN2, OUT> {
  open?(context: KeyedRuntimeContext): void;
  processElement1(value: IN1, context: KeyedProcessContext<K>, out: Collector<OUT>): void;
  processElement2(value: IN2, context: KeyedProcessContext<K>, out: Collector<OUT>): void;
  onTimer?(timestampMs: number, context: OnTimerContext<K>, out: Collector<OUT>): void;
  close?(): void;
}

/** Two inputs without keys (Flink's CoProcessFunction). */
export interface CoProcessFunction<IN1, IN2, OUT> {
  open?(context: RuntimeContext): void;
  processElement1(value: IN1, context: ProcessContext, out: Collector<OUT>): void;
  processElement2(value: IN2, context: ProcessContext, out: Collector<OUT>): void;
  close?(): void;
}

export interface ProcessJoinContext extends ProcessContext {
  readonly leftTimestamp: number;
  readonly rightTimestamp: number;
}

/** Called for each pair of an interval join; output timestamp = max(left, right). */
export interface ProcessJoinFunction<L, R, OUT> {
  open?(context: RuntimeContext): void;
  processElement(left: L, right: R, context: ProcessJoinContext, out: Collector<OUT>): void;
  close?(): void;
}

/** Read-only view of broadcast state, as the non-broadcast side sees it. */
export interface ReadOnlyBroadcastState<K, V> {
  get(key: K): V | undefined;
  contains(key: K): boolean;
  entries(): Array<[K, V]>;
}

export interface BroadcastState<K, V> extends ReadOnlyBroadcastState<K, V> {
  put(key: K, value: V): void;
  remove(key: K): void;
  clear(): void;
}

export interface BroadcastStateDescriptor<K, V> {
  readonly kind: 'broadcast';
  readonly name: string;
  readonly __types?: [K, V];
}

export function broadcastState<K, V>(name: string): BroadcastStateDescriptor<K, V> {
  return { kind: 'broadcast', name };
}

export interface BroadcastContext extends ProcessContext {
  getBroadcastState<K, V>(descriptor: BroadcastStateDescriptor<K, V>): BroadcastState<K, V>;
}

export interface ReadOnlyBroadcastContext extends ProcessContext {
  getBroadcastState<K, V>(descriptor: BroadcastStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V>;
}

export interface KeyedReadOnlyBroadcastContext<K> extends ReadOnlyBroadcastContext, KeyedProcessContext<K> {}

/** The context of `onTimer` in a keyed broadcast function: it may read broadcast state (as in Flink). */
export interface KeyedBroadcastOnTimerContext<K> extends OnTimerContext<K>, ReadOnlyBroadcastContext {}

/** Keyed stream connected with a broadcast stream. Broadcast state must be updated deterministically. */
export interface KeyedBroadcastProcessFunction<K, IN, B, OUT> {
  open?(context: KeyedRuntimeContext): void;
  processElement(value: IN, context: KeyedReadOnlyBroadcastContext<K>, out: Collector<OUT>): void;
  processBroadcastElement(value: B, context: BroadcastContext, out: Collector<OUT>): void;
  onTimer?(timestampMs: number, context: KeyedBroadcastOnTimerContext<K>, out: Collector<OUT>): void;
  close?(): void;
}

export interface BroadcastProcessFunction<IN, B, OUT> {
  open?(context: RuntimeContext): void;
  processElement(value: IN, context: ReadOnlyBroadcastContext, out: Collector<OUT>): void;
  processBroadcastElement(value: B, context: BroadcastContext, out: Collector<OUT>): void;
  close?(): void;
}

export type MapFunction<IN, OUT> = (value: IN) => OUT;
export type FilterFunction<IN> = (value: IN) => boolean;
export type FlatMapFunction<IN, OUT> = (value: IN, out: Collector<OUT>) => void;
export type KeySelector<IN, K> = (value: IN) => K;
export type ReduceFunction<T> = (a: T, b: T) => T;
