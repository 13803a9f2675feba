import { assignToKeyGroup } from '../core/key-group.ts';
import type { CoProcessFunction, KeyedCoProcessFunction, KeySelector } from '../api/functions.ts';
import {
  instantiateFunction,
  keyedRuntimeContextOf,
  runtimeContextOf,
  TimestampedCollector,
  UserFunctionContext,
} from './function-contexts.ts';
import { KeyedFunctionOperator } from './keyed-function-operator.ts';
import { OperatorBase } from './operator-base.ts';

/**
 * `connect(a, b).keyBy(ka, kb).process(fn)`: two inputs sharing keyed state and timers. The operator's
 * watermark is the minimum of its two inputs' (OperatorBase), so a timer fires only when both
 * inputs have passed it.
 */
export class KeyedCoProcessOperator<K, IN1, IN2, OUT> extends KeyedFunctionOperator<K, OUT> {
  private function!: KeyedCoProcessFunction<K, IN1, IN2, OUT>;

  constructor(
    private readonly keySelector1: KeySelector<IN1, K>,
    private readonly keySelector2: KeySelector<IN2, K>,
    private readonly userFunction: KeyedCoProcessFunction<K, IN1, IN2, OUT>,
  ) {
    super(2, true);
  }

  override open(): void {
    this.openFunctionContext();
    this.function = instantiateFunction(this.userFunction);
    this.function.open?.(keyedRuntimeContextOf(this.context, this.backend));
  }

  prefetch(values: readonly unknown[], timestamps: ArrayLike<number>, length: number, input: number): Promise<void> | undefined {
    return this.prefetchBatch(values, timestamps, length, (value, _timestampMs, backend) => {
      const key = input === 0 ? this.keySelector1(value as IN1) : this.keySelector2(value as IN2);
      backend.prefetchKey!(key, assignToKeyGroup(key, backend.maxParallelism));
    });
  }

  processRecord(value: unknown, timestampMs: number, input: number): void {
    this.metrics.recordsIn++;
    this.setRecordTimestamp(timestampMs);
    if (input === 0) {
      this.backend.setCurrentKey(this.keySelector1(value as IN1));
      this.function.processElement1(value as IN1, this.functionContext, this.collector);
    } else {
      this.backend.setCurrentKey(this.keySelector2(value as IN2));
      this.function.processElement2(value as IN2, this.functionContext, this.collector);
    }
  }

  protected invokeOnTimer(timestampMs: number): void {
    this.function.onTimer?.(timestampMs, this.functionContext, this.collector);
  }

  override close(): void {
    this.function?.close?.();
    super.close();
  }
}

/** `connect(a, b).process(fn)` without keys. */
export class CoProcessOperator<IN1, IN2, OUT> extends OperatorBase<OUT> {
  private function!: CoProcessFunction<IN1, IN2, OUT>;
  private functionContext!: UserFunctionContext<never>;
  private collector!: TimestampedCollector<OUT>;

  constructor(private readonly userFunction: CoProcessFunction<IN1, IN2, OUT>) {
    super(2, false);
  }

  override open(): void {
    this.collector = new TimestampedCollector(this.output, this.metrics);
    this.functionContext = new UserFunctionContext(this.context, () => this.currentWatermark, undefined, undefined);
    this.function = instantiateFunction(this.userFunction);
    this.function.open?.(runtimeContextOf(this.context));
  }

  processRecord(value: unknown, timestampMs: number, input: number): void {
    this.metrics.recordsIn++;
    this.functionContext.timestamp = timestampMs;
    this.collector.timestampMs = timestampMs;
    if (input === 0) this.function.processElement1(value as IN1, this.functionContext, this.collector);
    else this.function.processElement2(value as IN2, this.functionContext, this.collector);
  }

  override close(): void {
    this.function?.close?.();
    super.close();
  }
}
