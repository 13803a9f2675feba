import type {
  KeyedRuntimeContext,
  OnTimerContext,
  ProcessJoinContext,
  RuntimeContext,
  TimeDomain,
} from '../api/functions.ts';
import type { Collector } from '../core/collector.ts';
import type { OutputTag } from '../core/output-tag.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import type { TimerService } from '../time/timer-service.ts';
import type { OperatorMetrics } from './operator-metrics.ts';
import type { OperatorContext, Output } from './operator.ts';

/**
 * The objects handed to user functions. One of each per operator subtask, updated in place per record
 * (no allocation on the hot path).
 */
export function runtimeContextOf(context: OperatorContext<unknown>): RuntimeContext {
  return {
    operatorUid: context.uid,
    subtask: context.subtask,
    parallelism: context.parallelism,
    maxParallelism: context.maxParallelism,
    attempt: context.checkpointing.attempt,
  };
}

/**
 * The {@link KeyedRuntimeContext} of a keyed operator: state handles come from `backend` and follow its
 * current key.
 */
export function keyedRuntimeContextOf(context: OperatorContext<unknown>, backend: KeyedStateBackend): KeyedRuntimeContext {
  return {
    ...runtimeContextOf(context),
    getValueState: (descriptor) => backend.getValueState(descriptor),
    getListState: (descriptor) => backend.getListState(descriptor),
    getMapState: (descriptor) => backend.getMapState(descriptor),
    getReducingState: (descriptor) => backend.getReducingState(descriptor),
    getAggregatingState: (descriptor) => backend.getAggregatingState(descriptor),
  };
}

/**
 * The subtask's own instance of a user function object: fields it assigns (in `open`, typically)
 * belong to this subtask; methods and shared configuration are inherited from the user's object.
 */
export function instantiateFunction<F extends object>(userFunction: F): F {
  return Object.create(userFunction) as F;
}

/** Emits a user function's results with a timestamp set by the operator (the record's or the timer's). */
export class TimestampedCollector<T> implements Collector<T> {
  timestampMs = Number.NaN;

  constructor(
    private readonly output: Output<T>,
    private readonly metrics: OperatorMetrics,
  ) {}

  collect(value: T): void {
    this.metrics.recordsOut++;
    this.output.collect(value, this.timestampMs);
  }
}

/**
 * The context of process functions (plain, keyed, on-timer, join). The operator sets `timestamp`
 * (and the join timestamps, the time domain) before each call; the key comes from the backend.
 */
export class UserFunctionContext<K> implements OnTimerContext<K>, ProcessJoinContext {
  timestamp = Number.NaN;
  leftTimestamp = Number.NaN;
  rightTimestamp = Number.NaN;
  timeDomain: TimeDomain = 'event-time';

  constructor(
    private readonly operatorContext: OperatorContext<unknown>,
    private readonly watermark: () => number,
    private readonly backend: KeyedStateBackend | undefined,
    private readonly timers: TimerService | undefined,
  ) {}

  get currentWatermark(): number {
    return this.watermark();
  }

  get currentProcessingTime(): number {
    return this.operatorContext.clock.now();
  }

  get currentKey(): K {
    if (this.backend === undefined) throw new TypeError('currentKey is only available on keyed streams');
    return this.backend.getCurrentKey() as K;
  }

  get timerService(): TimerService {
    if (this.timers === undefined) {
      throw new TypeError('timers are only available on keyed streams: call keyBy(...) before process(...)');
    }
    return this.timers;
  }

  output<S>(tag: OutputTag<S>, value: S): void {
    this.operatorContext.output.collectSide(tag, value, this.timestamp);
  }
}
