import type { FilterFunction, FlatMapFunction, MapFunction } from '../api/functions.ts';
import type { Collector } from '../core/collector.ts';
import { OperatorBase } from './operator-base.ts';

/** `map`: one output per input, same timestamp. Stateless; chains. */
export class MapOperator<IN, OUT> extends OperatorBase<OUT> {
  constructor(private readonly mapFunction: MapFunction<IN, OUT>) {
    super(1, false);
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    const result = this.mapFunction(value as IN);
    this.metrics.recordsOut++;
    this.output.collect(result, timestampMs);
  }
}

/** `filter`: keeps the records for which the predicate is true. */
export class FilterOperator<T> extends OperatorBase<T> {
  constructor(private readonly predicate: FilterFunction<T>) {
    super(1, false);
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    if (this.predicate(value as T)) {
      this.metrics.recordsOut++;
      this.output.collect(value as T, timestampMs);
    }
  }
}

/** `flatMap`: zero or more outputs per input, each with the input's timestamp. */
export class FlatMapOperator<IN, OUT> extends OperatorBase<OUT> implements Collector<OUT> {
  private currentTimestampMs = Number.NaN;

  constructor(private readonly flatMapFunction: FlatMapFunction<IN, OUT>) {
    super(1, false);
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    this.currentTimestampMs = timestampMs;
    this.flatMapFunction(value as IN, this);
  }

  /** The collector handed to the user function (the operator itself: no allocation per record). */
  collect(value: OUT): void {
    this.metrics.recordsOut++;
    this.output.collect(value, this.currentTimestampMs);
  }
}
