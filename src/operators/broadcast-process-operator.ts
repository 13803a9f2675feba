import type {
  BroadcastContext,
  BroadcastProcessFunction,
  BroadcastState,
  BroadcastStateDescriptor,
  KeyedBroadcastOnTimerContext,
  KeyedBroadcastProcessFunction,
  KeyedReadOnlyBroadcastContext,
  KeySelector,
} from '../api/functions.ts';
import { keyIdOf, type KeyId } from '../core/key-codec.ts';
import type { OutputTag } from '../core/output-tag.ts';
import { instantiateFunction, keyedRuntimeContextOf, runtimeContextOf } from './function-contexts.ts';
import { KeyedFunctionOperator } from './keyed-function-operator.ts';

const BROADCAST_STATE_PREFIX = 'broadcast:';

/** A broadcast state: the same map in every subtask, because every subtask sees every broadcast element. */
class MapBroadcastState<K, V> implements BroadcastState<K, V> {
  readonly entriesById = new Map<KeyId, [K, V]>();

  get(key: K): V | undefined {
    return this.entriesById.get(keyIdOf(key))?.[1];
  }

  contains(key: K): boolean {
    return this.entriesById.has(keyIdOf(key));
  }

  entries(): Array<[K, V]> {
    return [...this.entriesById.values()].map(([k, v]) => [k, v]);
  }

  put(key: K, value: V): void {
    this.entriesById.set(keyIdOf(key), [key, value]);
  }

  remove(key: K): void {
    this.entriesById.delete(keyIdOf(key));
  }

  clear(): void {
    this.entriesById.clear();
  }
}

/**
 * A (keyed or non-keyed) stream connected with a broadcast stream. Input 0 is the regular stream,
 * input 1 the broadcast one. Broadcast state is operator state kept identically in every subtask; it
 * is snapshotted by each and restored as union state (any copy is complete), so rescaling keeps it.
 */
export class BroadcastProcessOperator<K, IN, B, OUT> extends KeyedFunctionOperator<K, OUT> {
  private keyedFunction: KeyedBroadcastProcessFunction<K, IN, B, OUT> | undefined;
  private plainFunction: BroadcastProcessFunction<IN, B, OUT> | undefined;
  private broadcastContext!: BroadcastContext & KeyedReadOnlyBroadcastContext<K> & KeyedBroadcastOnTimerContext<K>;
  private readonly broadcastStates = new Map<string, MapBroadcastState<unknown, unknown>>();

  constructor(
    private readonly keySelector: KeySelector<IN, K> | undefined,
    private readonly userFunction: KeyedBroadcastProcessFunction<K, IN, B, OUT> | BroadcastProcessFunction<IN, B, OUT>,
  ) {
    super(2, keySelector !== undefined);
  }

  override open(): void {
    this.openFunctionContext();
    if (this.keySelector !== undefined) {
      this.keyedFunction = instantiateFunction(this.userFunction as KeyedBroadcastProcessFunction<K, IN, B, OUT>);
      this.keyedFunction.open?.(keyedRuntimeContextOf(this.context, this.backend));
    } else {
      this.plainFunction = instantiateFunction(this.userFunction as BroadcastProcessFunction<IN, B, OUT>);
      this.plainFunction.open?.(runtimeContextOf(this.context));
    }
    const functionContext = this.functionContext;
    const operator = this;
    this.broadcastContext = {
      get timestamp() {
        return functionContext.timestamp;
      },
      get currentWatermark() {
        return functionContext.currentWatermark;
      },
      get currentProcessingTime() {
        return functionContext.currentProcessingTime;
      },
      get currentKey() {
        return functionContext.currentKey;
      },
      get timerService() {
        return functionContext.timerService;
      },
      get timeDomain() {
        return functionContext.timeDomain;
      },
      output<S>(tag: OutputTag<S>, value: S): void {
        functionContext.output(tag, value);
      },
      getBroadcastState<BK, BV>(descriptor: BroadcastStateDescriptor<BK, BV>): BroadcastState<BK, BV> {
        return operator.broadcastState(descriptor) as BroadcastState<BK, BV>;
      },
    };
  }

  private broadcastState(descriptor: BroadcastStateDescriptor<unknown, unknown>): MapBroadcastState<unknown, unknown> {
    let state = this.broadcastStates.get(descriptor.name);
    if (state === undefined) {
      state = new MapBroadcastState();
      this.broadcastStates.set(descriptor.name, state);
    }
    return state;
  }

  processRecord(value: unknown, timestampMs: number, input: number): void {
    this.metrics.recordsIn++;
    this.setRecordTimestamp(timestampMs);
    if (input === 1) {
      if (this.keyedFunction !== undefined) {
        this.keyedFunction.processBroadcastElement(value as B, this.broadcastContext, this.collector);
      } else {
        this.plainFunction!.processBroadcastElement(value as B, this.broadcastContext, this.collector);
      }
      return;
    }
    if (this.keyedFunction !== undefined) {
      this.backend.setCurrentKey(this.keySelector!(value as IN));
      this.keyedFunction.processElement(value as IN, this.broadcastContext, this.collector);
    } else {
      this.plainFunction!.processElement(value as IN, this.broadcastContext, this.collector);
    }
  }

  protected invokeOnTimer(timestampMs: number): void {
    this.keyedFunction?.onTimer?.(timestampMs, this.broadcastContext, this.collector);
  }

  protected override snapshotOperatorState(): Record<string, readonly unknown[]> {
    const snapshot: Record<string, unknown[]> = {};
    for (const [name, state] of this.broadcastStates) {
      snapshot[BROADCAST_STATE_PREFIX + name] = state.entries().map(([k, v]) => [k, structuredClone(v)]);
    }
    return snapshot;
  }

  /** Loads every restored broadcast state eagerly, so a snapshot taken before any access still holds it. */
  protected override restoreOperatorState(state: Readonly<Record<string, readonly unknown[]>>): void {
    for (const [name, entries] of Object.entries(state)) {
      if (!name.startsWith(BROADCAST_STATE_PREFIX)) continue;
      const restored = new MapBroadcastState<unknown, unknown>();
      for (const entry of entries) {
        const [key, value] = entry as [unknown, unknown];
        restored.put(key, value);
      }
      this.broadcastStates.set(name.slice(BROADCAST_STATE_PREFIX.length), restored);
    }
  }

  override snapshotState(checkpointId: number) {
    const snapshot = super.snapshotState(checkpointId);
    return { ...snapshot, unionStateNames: Object.keys(snapshot.operatorState) };
  }

  override close(): void {
    this.keyedFunction?.close?.();
    this.plainFunction?.close?.();
    super.close();
  }
}
