import { NO_TIMESTAMP } from '../core/time.ts';
import type { Timer, VoidNamespace } from '../state/keyed-state-backend.ts';
import { voidNamespaceCodec } from '../state/keyed-state-backend.ts';
import type { Triggerable } from '../time/timer-service.ts';
import { TimestampedCollector, UserFunctionContext } from './function-contexts.ts';
import { OperatorBase } from './operator-base.ts';
import { UserTimerService } from './user-timer-service.ts';

/**
 * The base of operators that run a keyed user function with timers (keyed process, keyed co-process,
 * keyed broadcast process): one user timer service in the void namespace, one reused context and
 * collector, and timer firing with Flink's timestamps — the record's for `processElement`, the
 * timer's for an event-time `onTimer`, none (NaN) for a processing-time one.
 */
export abstract class KeyedFunctionOperator<K, OUT> extends OperatorBase<OUT> implements Triggerable<VoidNamespace> {
  protected functionContext!: UserFunctionContext<K>;
  protected collector!: TimestampedCollector<OUT>;

  /** Creates the timer service (keyed operators only), context and collector. Call first thing in `open`. */
  protected openFunctionContext(): void {
    const timers = this.isKeyed ? new UserTimerService(this.getInternalTimerService('user-timers', voidNamespaceCodec, this)) : undefined;
    this.collector = new TimestampedCollector(this.output, this.metrics);
    this.functionContext = new UserFunctionContext<K>(this.context, () => this.currentWatermark, this.keyedBackend, timers);
  }

  /** Sets the current record's timestamp on the context and the collector. */
  protected setRecordTimestamp(timestampMs: number): void {
    this.functionContext.timestamp = timestampMs;
    this.collector.timestampMs = timestampMs;
  }

  onEventTime(timer: Timer<VoidNamespace>): void {
    this.functionContext.timestamp = timer.timestamp;
    this.functionContext.timeDomain = 'event-time';
    this.collector.timestampMs = timer.timestamp;
    this.invokeOnTimer(timer.timestamp);
  }

  onProcessingTime(timer: Timer<VoidNamespace>): void {
    this.functionContext.timestamp = timer.timestamp;
    this.functionContext.timeDomain = 'processing-time';
    this.collector.timestampMs = NO_TIMESTAMP;
    this.invokeOnTimer(timer.timestamp);
  }

  /** Calls the user function's `onTimer`, if it has one. The key is already current. */
  protected abstract invokeOnTimer(timestampMs: number): void;
}
