import { ConfigurationError } from '../core/errors.ts';
import type { OutputTag } from '../core/output-tag.ts';
import type { Sink } from '../connector/sink.ts';
import type { Partitioning, StreamNode } from '../graph/stream-graph.ts';
import type { StreamOperator } from '../operators/operator.ts';
import { FilterOperator, FlatMapOperator, MapOperator } from '../operators/map-operator.ts';
import { ProcessOperator } from '../operators/process-operator.ts';
import { SinkOperator } from '../operators/sink-operator.ts';
import type { FilterFunction, FlatMapFunction, KeySelector, MapFunction, ProcessFunction } from './functions.ts';
import type { NodeSpec, StreamEnvironment } from './stream-environment.ts';
import { BroadcastConnectedStream, BroadcastStream, ConnectedStreams } from './connected-streams.ts';
import type { BroadcastStateDescriptor } from './functions.ts';
import { IntervalJoin } from './interval-join.ts';
import { WindowedStream } from './windowed-stream.ts';
import type { WindowAssigner } from '../windows/window-assigner.ts';
import type { Window } from '../windows/window.ts';
import type { GlobalWindow } from '../windows/global-window.ts';
import { GlobalWindows } from '../windows/global-windows.ts';
import { PurgingTrigger } from '../windows/purging-trigger.ts';
import { CountTrigger } from '../windows/count-trigger.ts';
import { CountEvictor } from '../windows/count-evictor.ts';
import type { Trigger } from '../windows/trigger.ts';
import type { Evictor } from '../windows/evictor.ts';
import { KeyedProcessOperator } from '../operators/keyed-process-operator.ts';
import { reducingState, type ReducingStateDescriptor } from '../state/descriptors.ts';
import type { ReducingState } from '../state/state.ts';
import type { Collector } from '../core/collector.ts';
import type { KeyedProcessContext, KeyedRuntimeContext } from './functions.ts';
import type { KeyedProcessFunction, ReduceFunction } from './functions.ts';
import { CoGroupedStreams, JoinedStreams } from './window-join.ts';

/** Where a stream's records come from: a node's main output or one of its side outputs, and how they are partitioned. */
export interface StreamOrigin {
  /** The id of the node whose output this is. */
  readonly nodeId: number;
  /** The OutputTag id when this is a side output, else undefined (the main output). */
  readonly sideOutputTagId: string | undefined;
  /** Explicit partitioning, or undefined for the default (forward when possible, else rebalance). */
  readonly partitioning?: Partitioning | undefined;
}

/** Options of `sinkTo`. */
export interface SinkOptions {
  /** Stable id; required (a sink's state — pending files, transactions — is mapped by it). */
  readonly uid: string;
  /** Shown in plans and reports. Default `Sink: <sink description>`. */
  readonly name?: string;
  /** Default: the environment's parallelism. */
  readonly parallelism?: number;
}

/**
 * A stream of records of type T. Operations add nodes to the environment's graph and return new
 * streams; nothing runs until the job is executed. Records keep their event time through
 * map/filter/flatMap/process.
 */
export class DataStream<T> {
  constructor(
    /** @internal */ readonly env: StreamEnvironment,
    /** @internal */ readonly origins: readonly StreamOrigin[],
  ) {}

  /** @internal Adds a one-input operator fed by this stream. */
  protected transform<OUT>(spec: NodeSpec): SingleOutputStream<OUT> {
    const node = this.env.addNode(spec);
    this.connectTo(node, 0);
    return new SingleOutputStream<OUT>(this.env, node);
  }

  /** @internal Adds edges from this stream's origins to input `input` of `node`. */
  connectTo(node: StreamNode, input: number): void {
    for (const origin of this.origins) {
      this.env.addEdge({
        sourceId: origin.nodeId,
        targetId: node.id,
        targetInput: input,
        partitioning: origin.partitioning,
        sideOutputTagId: origin.sideOutputTagId,
      });
    }
  }

  /** @internal This stream's origins with a partitioning applied to each. */
  protected withPartitioning(partitioning: Partitioning): readonly StreamOrigin[] {
    return this.origins.map((origin) => ({ ...origin, partitioning }));
  }

  /** One output per record, with the record's timestamp. Stateless: needs no uid. */
  map<OUT>(mapFunction: MapFunction<T, OUT>): SingleOutputStream<OUT> {
    checkFunction(mapFunction, 'map');
    return this.transform<OUT>(operatorSpec('map', 'Map', false, () => new MapOperator(mapFunction)));
  }

  /** Keeps the records for which `predicate` returns true. Stateless: needs no uid. */
  filter(predicate: FilterFunction<T>): SingleOutputStream<T> {
    checkFunction(predicate, 'filter');
    return this.transform<T>(operatorSpec('filter', 'Filter', false, () => new FilterOperator(predicate)));
  }

  /** Zero or more outputs per record: `(value, out) => { for (...) out.collect(x) }`. */
  flatMap<OUT>(flatMapFunction: FlatMapFunction<T, OUT>): SingleOutputStream<OUT> {
    checkFunction(flatMapFunction, 'flatMap');
    return this.transform<OUT>(operatorSpec('flat-map', 'FlatMap', false, () => new FlatMapOperator(flatMapFunction)));
  }

  /** A ProcessFunction without keys: side outputs, the current watermark, no keyed state or timers. */
  process<OUT>(processFunction: ProcessFunction<T, OUT>): SingleOutputStream<OUT> {
    checkObject(processFunction, 'process', 'processElement');
    return this.transform<OUT>(operatorSpec('process', 'Process', false, () => new ProcessOperator(processFunction)));
  }

  /**
   * Partitions by key: every record with the same key goes to the same subtask (the owner of the
   * key's key group), where keyed state and timers are scoped to it. The key must be a string, number,
   * bigint, boolean, null, or an array / plain object of those.
   */
  keyBy<K>(keySelector: KeySelector<T, K>): KeyedStream<K, T> {
    checkFunction(keySelector, 'keyBy');
    return new KeyedStream<K, T>(this.env, this.withPartitioning({ kind: 'hash', keySelector: keySelector as (v: unknown) => unknown }), keySelector);
  }

  /** Merges streams of the same type. */
  union(...others: readonly DataStream<T>[]): DataStream<T> {
    for (const other of others) {
      if (other.env !== this.env) throw new ConfigurationError('union: all streams must come from the same environment');
    }
    return new DataStream<T>(this.env, [...this.origins, ...others.flatMap((other) => other.origins)]);
  }

  /** Two streams into one two-input operator (`process` with a Co/KeyedCoProcessFunction). */
  connect<U>(other: DataStream<U>): ConnectedStreams<T, U>;
  /** This stream with a broadcast stream whose elements update broadcast state in every subtask. */
  connect<B>(other: BroadcastStream<B>): BroadcastConnectedStream<T, B>;
  connect<U>(other: DataStream<U> | BroadcastStream<U>): ConnectedStreams<T, U> | BroadcastConnectedStream<T, U> {
    if (other.env !== this.env) throw new ConfigurationError('connect: both streams must come from the same environment');
    if (other instanceof BroadcastStream) return new BroadcastConnectedStream<T, U>(this, other);
    return new ConnectedStreams<T, U>(this, other);
  }

  /** Round-robin over the next operator's subtasks (Storm's shuffle grouping). */
  rebalance(): DataStream<T> {
    return new DataStream<T>(this.env, this.withPartitioning({ kind: 'rebalance' }));
  }

  /** Every record to subtask 0 of the next operator (Storm's global grouping). */
  global(): DataStream<T> {
    return new DataStream<T>(this.env, this.withPartitioning({ kind: 'global' }));
  }

  /** Subtask i to subtask i; the next operator must have the same parallelism. */
  forward(): DataStream<T> {
    return new DataStream<T>(this.env, this.withPartitioning({ kind: 'forward' }));
  }

  /**
   * Every record to every subtask of the next operator (Storm's all grouping). With state
   * descriptors, a BroadcastStream to `connect` to another stream (broadcast state pattern).
   */
  broadcast(): DataStream<T>;
  /**
   * With state descriptors: a BroadcastStream to `connect` to another stream, whose function may write these
   * broadcast states.
   */
  broadcast(...descriptors: readonly BroadcastStateDescriptor<unknown, unknown>[]): BroadcastStream<T>;
  broadcast(...descriptors: readonly BroadcastStateDescriptor<unknown, unknown>[]): DataStream<T> | BroadcastStream<T> {
    const origins = this.withPartitioning({ kind: 'broadcast' });
    if (descriptors.length === 0) return new DataStream<T>(this.env, origins);
    return new BroadcastStream<T>(this.env, origins, descriptors);
  }

  /** `partitioner(key, numPartitions)` picks the subtask (Storm's direct / custom grouping). */
  partitionCustom<K>(partitioner: (key: K, numPartitions: number) => number, keySelector: KeySelector<T, K>): DataStream<T> {
    checkFunction(partitioner, 'partitionCustom');
    checkFunction(keySelector, 'partitionCustom');
    return new DataStream<T>(
      this.env,
      this.withPartitioning({
        kind: 'custom',
        partitioner: partitioner as (key: unknown, n: number) => number,
        keySelector: keySelector as (v: unknown) => unknown,
      }),
    );
  }

  /** Window join: `a.join(b).where(ka).equalTo(kb).window(assigner).apply((l, r) => ...)`. */
  join<U>(other: DataStream<U>): JoinedStreams<T, U> {
    return new JoinedStreams<T, U>(this, other);
  }

  /** Window co-group: like join, but the function sees all records of both sides per key and window. */
  coGroup<U>(other: DataStream<U>): CoGroupedStreams<T, U> {
    return new CoGroupedStreams<T, U>(this, other);
  }

  /** Writes the stream to a sink. */
  sinkTo(sink: Sink<T>, options: SinkOptions): DataStreamSink {
    if (sink === null || typeof sink !== 'object' || typeof sink.createWriter !== 'function') {
      throw new ConfigurationError('sinkTo needs a Sink (e.g. fileSink(...) or consoleSink())');
    }
    if (options === undefined || typeof options.uid !== 'string' || options.uid.trim() === '') {
      throw new ConfigurationError(`sink ${sink.describe()} needs a uid: stream.sinkTo(sink, { uid: 'results-sink' })`);
    }
    const node = this.env.addNode({
      kind: 'sink',
      name: options.name ?? `Sink: ${sink.describe()}`,
      isStateful: true,
      numInputs: 1,
      createOperator: () => new SinkOperator<T>(sink) as StreamOperator<unknown>,
      isSink: true,
      uid: options.uid,
      ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
    });
    this.connectTo(node, 0);
    return new DataStreamSink(node);
  }
}

/**
 * The stream produced by one operator: lets you name it, set its uid and parallelism, and read its
 * side outputs.
 */
export class SingleOutputStream<T> extends DataStream<T> {
  constructor(
    env: StreamEnvironment,
    /** @internal */ readonly node: StreamNode,
  ) {
    super(env, [{ nodeId: node.id, sideOutputTagId: undefined }]);
  }

  /** Stable id of this operator; required for stateful operators (state is mapped by it on restore). */
  uid(uid: string): this {
    if (typeof uid !== 'string' || uid.trim() === '') {
      throw new ConfigurationError(`uid of '${this.node.name}' must be a non-empty string`);
    }
    this.node.uid = uid;
    this.node.hasUserUid = true;
    return this;
  }

  /** Sets the name shown in plans, reports and errors. Throws ConfigurationError for an empty name. */
  name(name: string): this {
    setNodeName(this.node, name);
    return this;
  }

  /**
   * Number of subtasks of this operator (default: the environment's). Throws ConfigurationError unless a
   * whole number ≥ 1; the upper bound, maxParallelism, is checked when the job is planned.
   */
  setParallelism(parallelism: number): this {
    setNodeParallelism(this.node, parallelism);
    return this;
  }

  /** Do not chain this operator with its predecessor or successor. */
  disableChaining(): this {
    this.node.chainingStrategy = 'never';
    return this;
  }

  /** Begin a new chain at this operator. */
  startNewChain(): this {
    this.node.chainingStrategy = 'head';
    return this;
  }

  /** The records this operator emitted to side output `tag`. */
  getSideOutput<S>(tag: OutputTag<S>): DataStream<S> {
    return new DataStream<S>(this.env, [{ nodeId: this.node.id, sideOutputTagId: tag.id }]);
  }
}

/**
 * A stream partitioned by key (Flink's KeyedStream). Keyed operators applied to it — process
 * functions with state and timers, windows, interval joins, rolling reduce — see one key at a time.
 * Note: in this module (not its own file) because it extends DataStream and ES modules must evaluate
 * a base class before its subclasses.
 */
export class KeyedStream<K, T> extends DataStream<T> {
  constructor(
    env: StreamEnvironment,
    origins: readonly StreamOrigin[],
    /** @internal */ readonly keySelector: KeySelector<T, K>,
  ) {
    super(env, origins);
  }

  /** Per-key logic with keyed state and event-/processing-time timers. Needs a uid. */
  override process<OUT>(processFunction: KeyedProcessFunction<K, T, OUT>): SingleOutputStream<OUT>;
  /**
   * A plain ProcessFunction on a keyed stream: runs per record like the keyed form, without using state or
   * timers. Needs a uid.
   */
  override process<OUT>(processFunction: ProcessFunction<T, OUT>): SingleOutputStream<OUT>;
  override process<OUT>(processFunction: KeyedProcessFunction<K, T, OUT> | ProcessFunction<T, OUT>): SingleOutputStream<OUT> {
    checkObject(processFunction, 'process', 'processElement');
    const keySelector = this.keySelector;
    return this.transform<OUT>(
      operatorSpec('keyed-process', 'KeyedProcess', true, () =>
        new KeyedProcessOperator<K, T, OUT>(keySelector, processFunction as KeyedProcessFunction<K, T, OUT>),
      ),
    );
  }

  /** Rolling reduce: emits the running reduction of the key after every record. Needs a uid. */
  reduce(reduceFunction: ReduceFunction<T>): SingleOutputStream<T> {
    checkFunction(reduceFunction, 'reduce');
    const descriptor = reducingState<T>('rolling-reduce', reduceFunction);
    const rollingReduce = new RollingReduceFunction<K, T>(descriptor);
    const keySelector = this.keySelector;
    return this.transform<T>(
      operatorSpec('keyed-reduce', 'KeyedReduce', true, () => new KeyedProcessOperator<K, T, T>(keySelector, rollingReduce)),
    );
  }

  /**
   * Count windows per key: fire every `size` records (tumbling), or with `slide`, every `slide`
   * records over the last `size` (sliding).
   */
  countWindow(size: number, slide?: number): WindowedStream<K, T, GlobalWindow> {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new ConfigurationError(`count window size must be a whole number ≥ 1, got ${size}`);
    }
    if (slide === undefined) {
      return this.window(GlobalWindows.create() as WindowAssigner<T, GlobalWindow>).trigger(
        PurgingTrigger.of(CountTrigger.of(size)) as Trigger<T, GlobalWindow>,
      );
    }
    if (!Number.isSafeInteger(slide) || slide < 1 || slide > size) {
      throw new ConfigurationError(`count window slide must be a whole number in [1, size=${size}], got ${slide}`);
    }
    return this.window(GlobalWindows.create() as WindowAssigner<T, GlobalWindow>)
      .evictor(CountEvictor.of(size) as Evictor<T, GlobalWindow>)
      .trigger(CountTrigger.of(slide) as Trigger<T, GlobalWindow>);
  }

  /** Groups each key's records into windows. */
  window<W extends Window>(assigner: WindowAssigner<T, W>): WindowedStream<K, T, W> {
    return new WindowedStream<K, T, W>(this, assigner);
  }

  /** Joins each record with the other keyed stream's records of the same key within a time interval. */
  intervalJoin<U>(other: KeyedStream<K, U>): IntervalJoin<K, T, U> {
    if (!(other instanceof KeyedStream)) {
      throw new ConfigurationError('intervalJoin needs another keyed stream: other.keyBy(...)');
    }
    return new IntervalJoin<K, T, U>(this, other);
  }
}

/** The end of a pipeline. */
export class DataStreamSink {
  constructor(/** @internal */ readonly node: StreamNode) {}

  /** Sets the sink's name shown in plans and reports. */
  name(name: string): this {
    setNodeName(this.node, name);
    return this;
  }

  /**
   * Number of sink subtasks (default: the environment's). Throws ConfigurationError unless a whole number ≥
   * 1.
   */
  setParallelism(parallelism: number): this {
    setNodeParallelism(this.node, parallelism);
    return this;
  }
}

function setNodeName(node: StreamNode, name: string): void {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ConfigurationError('an operator name must be a non-empty string');
  }
  node.name = name;
}

function setNodeParallelism(node: StreamNode, parallelism: number): void {
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new ConfigurationError(`parallelism of '${node.name}' must be a whole number ≥ 1, got ${parallelism}`);
  }
  node.parallelism = parallelism;
}

/** @internal */
export function operatorSpec(
  kind: string,
  name: string,
  isStateful: boolean,
  createOperator: () => StreamOperator<unknown>,
  numInputs = 1,
): NodeSpec {
  return { kind, name, isStateful, numInputs, createOperator };
}

/** @internal */
export function checkFunction(candidate: unknown, method: string): void {
  if (typeof candidate !== 'function') {
    throw new ConfigurationError(`${method} needs a function, got ${candidate === null ? 'null' : typeof candidate}`);
  }
}

/** @internal */
export function checkObject(candidate: unknown, method: string, requiredMethod: string): void {
  if (candidate === null || typeof candidate !== 'object' || typeof (candidate as Record<string, unknown>)[requiredMethod] !== 'function') {
    throw new ConfigurationError(`${method} needs an object with a ${requiredMethod}(...) method`);
  }
}

/** The function behind `KeyedStream.reduce`: adds each record to a reducing state and emits the result. */
class RollingReduceFunction<K, T> implements KeyedProcessFunction<K, T, T> {
  private state!: ReducingState<T>;

  constructor(private readonly descriptor: ReducingStateDescriptor<T>) {}

  open(context: KeyedRuntimeContext): void {
    this.state = context.getReducingState(this.descriptor);
  }

  processElement(value: T, _context: KeyedProcessContext<K>, out: Collector<T>): void {
    this.state.add(value);
    out.collect(this.state.get() as T);
  }
}
