import { ConfigurationError } from '../core/errors.ts';
import { BroadcastProcessOperator } from '../operators/broadcast-process-operator.ts';
import { CoProcessOperator, KeyedCoProcessOperator } from '../operators/co-process-operator.ts';
import type { StreamOperator } from '../operators/operator.ts';
import type { Collector } from '../core/collector.ts';
import { checkFunction, checkObject, KeyedStream, SingleOutputStream, type DataStream, type StreamOrigin } from './data-stream.ts';
import type {
  BroadcastProcessFunction,
  BroadcastStateDescriptor,
  CoProcessFunction,
  KeyedBroadcastProcessFunction,
  KeyedCoProcessFunction,
  KeySelector,
  ProcessContext,
} from './functions.ts';
import type { StreamEnvironment } from './stream-environment.ts';

/**
 * Two streams feeding one two-input operator. When both are keyed (`keyBy(k1, k2)` or two
 * KeyedStreams with keys of the same type), the operator shares keyed state and timers between the
 * inputs: a key's records from either side meet in the same subtask.
 */
export class ConnectedStreams<IN1, IN2> {
  constructor(
    private readonly first: DataStream<IN1>,
    private readonly second: DataStream<IN2>,
  ) {}

  /** Partitions both inputs by key (keys of both sides must be comparable: the same value ▶ same key group). */
  keyBy<K>(keySelector1: KeySelector<IN1, K>, keySelector2: KeySelector<IN2, K>): ConnectedStreams<IN1, IN2> {
    return new ConnectedStreams<IN1, IN2>(this.first.keyBy(keySelector1), this.second.keyBy(keySelector2));
  }

  /** True when both inputs are keyed streams, so `process` takes a KeyedCoProcessFunction. */
  get isKeyed(): boolean {
    return this.first instanceof KeyedStream && this.second instanceof KeyedStream;
  }

  /** With keyed inputs: a KeyedCoProcessFunction (state, timers); otherwise a CoProcessFunction. Keyed needs a uid. */
  process<OUT, K = unknown>(
    processFunction: KeyedCoProcessFunction<K, IN1, IN2, OUT> | CoProcessFunction<IN1, IN2, OUT>,
  ): SingleOutputStream<OUT> {
    checkObject(processFunction, 'process', 'processElement1');
    if (this.first instanceof KeyedStream !== this.second instanceof KeyedStream) {
      throw new ConfigurationError(
        'connect: either both inputs are keyed or neither is; use connected.keyBy(key1, key2) to key both',
      );
    }
    if (this.first instanceof KeyedStream && this.second instanceof KeyedStream) {
      const key1 = this.first.keySelector as KeySelector<IN1, K>;
      const key2 = this.second.keySelector as KeySelector<IN2, K>;
      return this.addOperator<OUT>('keyed-co-process', 'KeyedCoProcess', true, () =>
        new KeyedCoProcessOperator<K, IN1, IN2, OUT>(key1, key2, processFunction as KeyedCoProcessFunction<K, IN1, IN2, OUT>),
      );
    }
    return this.addOperator<OUT>('co-process', 'CoProcess', false, () =>
      new CoProcessOperator<IN1, IN2, OUT>(processFunction as CoProcessFunction<IN1, IN2, OUT>),
    );
  }

  /** One map function per input. */
  map<OUT>(map1: (value: IN1) => OUT, map2: (value: IN2) => OUT): SingleOutputStream<OUT> {
    checkFunction(map1, 'map');
    checkFunction(map2, 'map');
    const coMap: CoProcessFunction<IN1, IN2, OUT> = {
      processElement1: (value: IN1, _context: ProcessContext, out: Collector<OUT>) => out.collect(map1(value)),
      processElement2: (value: IN2, _context: ProcessContext, out: Collector<OUT>) => out.collect(map2(value)),
    };
    return this.addOperator<OUT>('co-map', 'CoMap', false, () => new CoProcessOperator<IN1, IN2, OUT>(coMap));
  }

  /** One flatMap function per input. */
  flatMap<OUT>(
    flatMap1: (value: IN1, out: Collector<OUT>) => void,
    flatMap2: (value: IN2, out: Collector<OUT>) => void,
  ): SingleOutputStream<OUT> {
    checkFunction(flatMap1, 'flatMap');
    checkFunction(flatMap2, 'flatMap');
    const coFlatMap: CoProcessFunction<IN1, IN2, OUT> = {
      processElement1: (value: IN1, _context: ProcessContext, out: Collector<OUT>) => flatMap1(value, out),
      processElement2: (value: IN2, _context: ProcessContext, out: Collector<OUT>) => flatMap2(value, out),
    };
    return this.addOperator<OUT>('co-flat-map', 'CoFlatMap', false, () => new CoProcessOperator<IN1, IN2, OUT>(coFlatMap));
  }

  private addOperator<OUT>(
    kind: string,
    name: string,
    isStateful: boolean,
    createOperator: () => StreamOperator<unknown>,
  ): SingleOutputStream<OUT> {
    const env = this.first.env;
    const node = env.addNode({ kind, name, isStateful, numInputs: 2, createOperator });
    this.first.connectTo(node, 0);
    this.second.connectTo(node, 1);
    return new SingleOutputStream<OUT>(env, node);
  }
}

/** A stream broadcast to every subtask of the operator it is connected to, with broadcast state. */
export class BroadcastStream<T> {
  /** Phantom field carrying the element type; never set. */
  declare readonly __type?: T;

  constructor(
    /** @internal */ readonly env: StreamEnvironment,
    /** @internal */ readonly origins: readonly StreamOrigin[],
    readonly descriptors: readonly BroadcastStateDescriptor<unknown, unknown>[],
  ) {}
}

/** A (keyed or non-keyed) stream connected with a broadcast stream. */
export class BroadcastConnectedStream<IN, B> {
  constructor(
    private readonly regular: DataStream<IN>,
    private readonly broadcastStream: BroadcastStream<B>,
  ) {}

  process<OUT, K = unknown>(
    processFunction: KeyedBroadcastProcessFunction<K, IN, B, OUT> | BroadcastProcessFunction<IN, B, OUT>,
  ): SingleOutputStream<OUT> {
    checkObject(processFunction, 'process', 'processBroadcastElement');
    const env = this.regular.env;
    const keySelector = this.regular instanceof KeyedStream ? (this.regular.keySelector as KeySelector<IN, K>) : undefined;
    const node = env.addNode({
      kind: keySelector === undefined ? 'broadcast-process' : 'keyed-broadcast-process',
      name: keySelector === undefined ? 'BroadcastProcess' : 'KeyedBroadcastProcess',
      isStateful: true,
      numInputs: 2,
      createOperator: () => new BroadcastProcessOperator<K, IN, B, OUT>(keySelector, processFunction),
    });
    this.regular.connectTo(node, 0);
    for (const origin of this.broadcastStream.origins) {
      env.addEdge({
        sourceId: origin.nodeId,
        targetId: node.id,
        targetInput: 1,
        partitioning: { kind: 'broadcast' },
        sideOutputTagId: origin.sideOutputTagId,
      });
    }
    return new SingleOutputStream<OUT>(env, node);
  }
}
