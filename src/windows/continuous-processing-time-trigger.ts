import { reducingState } from '../state/descriptors.ts';
import type { ReducingState } from '../state/state.ts';
import { parseDuration } from '../core/duration.ts';
import { checkPositiveDuration } from './window-arguments.ts';
import type { Window } from './window.ts';
import type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from './trigger.ts';

const min = (a: number, b: number): number => (a < b ? a : b);

/**
 * Fires every `intervalMs` of processing time (aligned to multiples of the interval) from the first
 * element of a window on, the last time at the window's `maxTimestamp` (Flink ≥ 1.13.6, FLINK-20443).
 */
export class ContinuousProcessingTimeTrigger implements Trigger<unknown, Window> {
  private readonly fireTimeState = reducingState<number>('continuous-processing-time-trigger-fire-time', min);

  private constructor(readonly intervalMs: number) {}

  static of(interval: number | string): ContinuousProcessingTimeTrigger {
    return new ContinuousProcessingTimeTrigger(
      checkPositiveDuration(parseDuration(interval, 'trigger interval'), 'trigger interval'),
    );
  }

  onElement(_element: unknown, _timestampMs: number, window: Window, ctx: TriggerContext): TriggerResult {
    const fireTime = ctx.getPartitionedState(this.fireTimeState);
    const nowMs = ctx.currentProcessingTime();
    if (fireTime.get() === undefined) this.registerNextFireTime(nowMs - (nowMs % this.intervalMs), window, ctx, fireTime);
    return 'continue';
  }

  onEventTime(): TriggerResult {
    return 'continue';
  }

  onProcessingTime(timeMs: number, window: Window, ctx: TriggerContext): TriggerResult {
    const fireTime = ctx.getPartitionedState(this.fireTimeState);
    if (fireTime.get() === timeMs) {
      fireTime.clear();
      this.registerNextFireTime(timeMs, window, ctx, fireTime);
      return 'fire';
    }
    return 'continue';
  }

  canMerge(): boolean {
    return true;
  }

  onMerge(_window: Window, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.fireTimeState);
    const next = ctx.getPartitionedState(this.fireTimeState).get();
    if (next !== undefined) ctx.registerProcessingTimeTimer(next);
  }

  clear(_window: Window, ctx: TriggerContext): void {
    const fireTime = ctx.getPartitionedState(this.fireTimeState);
    const timestampMs = fireTime.get();
    if (timestampMs !== undefined) {
      ctx.deleteProcessingTimeTimer(timestampMs);
      fireTime.clear();
    }
  }

  private registerNextFireTime(timeMs: number, window: Window, ctx: TriggerContext, fireTime: ReducingState<number>): void {
    const next = Math.min(timeMs + this.intervalMs, window.maxTimestamp());
    fireTime.add(next);
    ctx.registerProcessingTimeTimer(next);
  }

  toString(): string {
    return `ContinuousProcessingTimeTrigger(${this.intervalMs}ms)`;
  }
}
