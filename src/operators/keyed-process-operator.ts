import { assignToKeyGroup } from '../core/key-group.ts';
import type { KeyedProcessFunction, KeySelector } from '../api/functions.ts';
import { instantiateFunction, keyedRuntimeContextOf } from './function-contexts.ts';
import { KeyedFunctionOperator } from './keyed-function-operator.ts';

/**
 * `keyBy(...).process(fn)`: per-key state and event-/processing-time timers. Output of
 * `processElement` carries the record's timestamp; output of an event-time `onTimer` the timer's,
 * of a processing-time one none (NaN), as in Flink.
 */
export class KeyedProcessOperator<K, IN, OUT> extends KeyedFunctionOperator<K, OUT> {
  private function!: KeyedProcessFunction<K, IN, OUT>;

  constructor(
    private readonly keySelector: KeySelector<IN, K>,
    private readonly userFunction: KeyedProcessFunction<K, IN, OUT>,
  ) {
    super(1, true);
  }

  override open(): void {
    this.openFunctionContext();
    this.function = instantiateFunction(this.userFunction);
    this.function.open?.(keyedRuntimeContextOf(this.context, this.backend));
  }

  prefetch(values: readonly unknown[], timestamps: ArrayLike<number>, length: number): Promise<void> | undefined {
    return this.prefetchBatch(values, timestamps, length, (value, _timestampMs, backend) => {
      const key = this.keySelector(value as IN);
      backend.prefetchKey!(key, assignToKeyGroup(key, backend.maxParallelism));
    });
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    this.backend.setCurrentKey(this.keySelector(value as IN));
    this.setRecordTimestamp(timestampMs);
    this.function.processElement(value as IN, this.functionContext, this.collector);
  }

  protected invokeOnTimer(timestampMs: number): void {
    this.function.onTimer?.(timestampMs, this.functionContext, this.collector);
  }

  override close(): void {
    this.function?.close?.();
    super.close();
  }
}
