import type { KeyedProcessFunction, KeySelector } from '../api/functions.ts';
import { NO_TIMESTAMP } from '../core/time.ts';
import type { Timer, VoidNamespace } from '../state/keyed-state-backend.ts';
import { voidNamespaceCodec } from '../state/keyed-state-backend.ts';
import type { Triggerable } from '../time/timer-service.ts';
import {
  instantiateFunction,
  keyedRuntimeContextOf,
  TimestampedCollector,
  UserFunctionContext,
} from './function-contexts.ts';
import { OperatorBase } from './operator-base.ts';
import { UserTimerService } from './user-timer-service.ts';

/**
 * `keyBy(...).process(fn)`: per-key state and event-/processing-time timers. Output of
 * `processElement` carries the record's timestamp; output of an event-time `onTimer` the timer's,
 * of a processing-time one none (NaN), as in Flink.
 */
export class KeyedProcessOperator<K, IN, OUT> extends OperatorBase<OUT> implements Triggerable<VoidNamespace> {
  private function!: KeyedProcessFunction<K, IN, OUT>;
  private functionContext!: UserFunctionContext<K>;
  private collector!: TimestampedCollector<OUT>;

  constructor(
    private readonly keySelector: KeySelector<IN, K>,
    private readonly userFunction: KeyedProcessFunction<K, IN, OUT>,
  ) {
    super(1, true);
  }

  override open(): void {
    const timers = this.getInternalTimerService('user-timers', voidNamespaceCodec, this);
    this.collector = new TimestampedCollector(this.output, this.metrics);
    this.functionContext = new UserFunctionContext<K>(
      this.context,
      () => this.currentWatermark,
      this.backend,
      new UserTimerService(timers),
    );
    this.function = instantiateFunction(this.userFunction);
    this.function.open?.(keyedRuntimeContextOf(this.context, this.backend));
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    this.backend.setCurrentKey(this.keySelector(value as IN));
    this.functionContext.timestamp = timestampMs;
    this.collector.timestampMs = timestampMs;
    this.function.processElement(value as IN, this.functionContext, this.collector);
  }

  onEventTime(timer: Timer<VoidNamespace>): void {
    this.fire(timer, 'event-time');
  }

  onProcessingTime(timer: Timer<VoidNamespace>): void {
    this.fire(timer, 'processing-time');
  }

  private fire(timer: Timer<VoidNamespace>, domain: 'event-time' | 'processing-time'): void {
    if (this.function.onTimer === undefined) return;
    this.functionContext.timestamp = timer.timestamp;
    this.functionContext.timeDomain = domain;
    // As in Flink: output of a processing-time timer carries no event time.
    this.collector.timestampMs = domain === 'event-time' ? timer.timestamp : NO_TIMESTAMP;
    this.function.onTimer(timer.timestamp, this.functionContext, this.collector);
  }

  override close(): void {
    this.function?.close?.();
    super.close();
  }
}
