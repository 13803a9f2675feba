import type { ProcessFunction } from '../api/functions.ts';
import { instantiateFunction, runtimeContextOf, TimestampedCollector, UserFunctionContext } from './function-contexts.ts';
import { OperatorBase } from './operator-base.ts';

/** `process` on a non-keyed stream: a ProcessFunction with side outputs, no keyed state or timers. */
export class ProcessOperator<IN, OUT> extends OperatorBase<OUT> {
  private function!: ProcessFunction<IN, OUT>;
  private functionContext!: UserFunctionContext<never>;
  private collector!: TimestampedCollector<OUT>;

  constructor(private readonly userFunction: ProcessFunction<IN, OUT>) {
    super(1, false);
  }

  override open(): void {
    this.collector = new TimestampedCollector(this.output, this.metrics);
    this.functionContext = new UserFunctionContext(this.context, () => this.currentWatermark, undefined, undefined);
    this.function = instantiateFunction(this.userFunction);
    this.function.open?.(runtimeContextOf(this.context));
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    this.functionContext.timestamp = timestampMs;
    this.collector.timestampMs = timestampMs;
    this.function.processElement(value as IN, this.functionContext, this.collector);
  }

  override close(): void {
    this.function?.close?.();
    super.close();
  }
}
