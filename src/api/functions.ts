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

/**
 * Where a function instance runs, passed to `open`: the operator's uid and this subtask's index (0-based) out
 * of `parallelism`.
 */
export interface RuntimeContext {
  /** The operator's uid (what its state is mapped by). */
  readonly operatorUid: string;
  readonly subtask: number;
  readonly parallelism: number;
  /** Number of key groups: the upper bound for rescaling this operator. */
  readonly maxParallelism: number;
  /** The run attempt: 1 for the first run, + 1 after every automatic restart (0 in the test harness). */
  readonly attempt: number;
}

/** Access to keyed state by descriptor (the same interface windows use for per-window state). */
export type { KeyedStateStore };

/**
 * The `open` context of a keyed function: the {@link RuntimeContext} plus keyed state by descriptor. Create
 * state handles here and keep them in fields; they follow the current key automatically.
 */
export interface KeyedRuntimeContext extends RuntimeContext, KeyedStateStore {}

/**
 * What a process function sees for the record it is handling. Valid only during that call: do not keep it.
 */
export interface ProcessContext {
  /** Event time of the current record (NaN when it has none). */
  readonly timestamp: number;
  /** The operator's current watermark. */
  readonly currentWatermark: number;
  /** The task clock's time in epoch ms (a manual clock in tests). */
  readonly currentProcessingTime: number;
  /** Emits to a side output, with the current record's timestamp. */
  output<S>(tag: OutputTag<S>, value: S): void;
}

/**
 * A {@link ProcessContext} on a keyed stream: the key of the current record and timers scoped to that key.
 */
export interface KeyedProcessContext<K> extends ProcessContext {
  /** The key of the record (or timer) being handled. */
  readonly currentKey: K;
  /** Timers of the current key; see {@link TimerService}. */
  readonly timerService: TimerService;
}

/**
 * Which clock a timer was registered on: `event-time` timers fire on the watermark, `processing-time` timers
 * on the task clock.
 */
export type TimeDomain = 'event-time' | 'processing-time';

/**
 * The context of `onTimer`: the timer's key is the current key, and `timeDomain` says which clock fired it.
 */
export interface OnTimerContext<K> extends KeyedProcessContext<K> {
  readonly timeDomain: TimeDomain;
}

/**
 * Per-record logic on a non-keyed stream (Flink's ProcessFunction): no keyed state, no timers. Emit with
 * `out.collect`; output keeps the input record's timestamp.
 */
export interface ProcessFunction<IN, OUT> {
  /**
   * Called once per subtask before the first record, on the subtask's own instance: create state handles and
   * caches here.
   */
  open?(context: RuntimeContext): void;
  /** Called for every record; `context` and `out` are valid only during the call. */
  processElement(value: IN, context: ProcessContext, out: Collector<OUT>): void;
  /**
   * Called when the subtask shuts down, at the end of input and also after a failure: release resources here.
   */
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
  /** A record of the first input (the stream `connect` was called on). */
  processElement1(value: IN1, context: KeyedProcessContext<K>, out: Collector<OUT>): void;
  /** A record of the second input (the argument of `connect`). */
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

/**
 * The context of an interval-join pair: the timestamps of both sides (epoch ms); `timestamp` is their max.
 */
export interface ProcessJoinContext extends ProcessContext {
  /** Event time of the left record, epoch ms. */
  readonly leftTimestamp: number;
  /** Event time of the right record, epoch ms. */
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
  /** A copy of all entries; order unspecified. */
  entries(): Array<[K, V]>;
}

/**
 * Broadcast state as the broadcast side sees it: writable. Every subtask applies the same broadcast elements,
 * so updates must depend only on the element and the state, never on the subtask or the clock, or the copies
 * diverge.
 */
export interface BroadcastState<K, V> extends ReadOnlyBroadcastState<K, V> {
  put(key: K, value: V): void;
  remove(key: K): void;
  clear(): void;
}

/** Names one broadcast state of an operator (a map from K to V). Build with {@link broadcastState}. */
export interface BroadcastStateDescriptor<K, V> {
  readonly kind: 'broadcast';
  readonly name: string;
  /** Phantom: carries the key and value types; never set. */
  readonly __types?: [K, V];
}

/**
 * A descriptor for broadcast state `name`. The same name on the same operator means the same state; it is
 * checkpointed by every subtask and restored whole (union state), so it survives rescaling.
 */
export function broadcastState<K, V>(name: string): BroadcastStateDescriptor<K, V> {
  return { kind: 'broadcast', name };
}

/** The context of `processBroadcastElement`: read and write access to broadcast state. */
export interface BroadcastContext extends ProcessContext {
  /**
   * The state named by `descriptor`, created empty on first access. The descriptor must be one passed to
   * `broadcast(...)`.
   */
  getBroadcastState<K, V>(descriptor: BroadcastStateDescriptor<K, V>): BroadcastState<K, V>;
}

/** The context of `processElement` in a broadcast function: broadcast state is read-only on this side. */
export interface ReadOnlyBroadcastContext extends ProcessContext {
  getBroadcastState<K, V>(descriptor: BroadcastStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V>;
}

/**
 * The context of `processElement` in a keyed broadcast function: read-only broadcast state plus the current
 * key and its timers.
 */
export interface KeyedReadOnlyBroadcastContext<K> extends ReadOnlyBroadcastContext, KeyedProcessContext<K> {}

/** The context of `onTimer` in a keyed broadcast function: it may read broadcast state (as in Flink). */
export interface KeyedBroadcastOnTimerContext<K> extends OnTimerContext<K>, ReadOnlyBroadcastContext {}

/** Keyed stream connected with a broadcast stream. Broadcast state must be updated deterministically. */
export interface KeyedBroadcastProcessFunction<K, IN, B, OUT> {
  open?(context: KeyedRuntimeContext): void;
  processElement(value: IN, context: KeyedReadOnlyBroadcastContext<K>, out: Collector<OUT>): void;
  /** A record of the broadcast input, seen by every subtask: update broadcast state here. No current key. */
  processBroadcastElement(value: B, context: BroadcastContext, out: Collector<OUT>): void;
  onTimer?(timestampMs: number, context: KeyedBroadcastOnTimerContext<K>, out: Collector<OUT>): void;
  close?(): void;
}

/**
 * A non-keyed stream connected with a broadcast stream (Flink's BroadcastProcessFunction): no keyed state, no
 * timers. Broadcast state must be updated deterministically.
 */
export interface BroadcastProcessFunction<IN, B, OUT> {
  open?(context: RuntimeContext): void;
  processElement(value: IN, context: ReadOnlyBroadcastContext, out: Collector<OUT>): void;
  processBroadcastElement(value: B, context: BroadcastContext, out: Collector<OUT>): void;
  close?(): void;
}

/** One output per input; the output keeps the input's timestamp. */
export type MapFunction<IN, OUT> = (value: IN) => OUT;
/** Keeps a record when it returns true. */
export type FilterFunction<IN> = (value: IN) => boolean;
/** Zero or more outputs per input via `out.collect`, each with the input's timestamp. */
export type FlatMapFunction<IN, OUT> = (value: IN, out: Collector<OUT>) => void;
/**
 * Extracts a record's key. Must be deterministic: the key decides the key group, so the same record must
 * always give an equal key (compared by canonical encoding, not identity).
 */
export type KeySelector<IN, K> = (value: IN) => K;
/**
 * Combines two values into one of the same type. Should be associative: Eddy applies it incrementally, in
 * arrival order.
 */
export type ReduceFunction<T> = (a: T, b: T) => T;
