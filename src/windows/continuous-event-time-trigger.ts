import { reducingState } from '../state/descriptors.ts';
import type { ReducingState } from '../state/state.ts';
import { parseDuration } from '../core/duration.ts';
import { checkPositiveDuration } from './window-arguments.ts';
import type { Window } from './window.ts';
import type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from './trigger.ts';

const min = (a: number, b: number): number => (a < b ? a : b);

/**
 * Fires every `intervalMs` of event time while the window is open (early firings, aligned to
 * multiples of the interval), once at the window's end, and for late elements like
 * {@link EventTimeTrigger}. The next fire time lives in trigger state (the minimum wins on merge).
 */
export class ContinuousEventTimeTrigger implements Trigger<unknown, Window> {
  private readonly fireTimeState = reducingState<number>('continuous-event-time-trigger-fire-time', min);

  private constructor(readonly intervalMs: number) {}

  static of(interval: number | string): ContinuousEventTimeTrigger {
    return new ContinuousEventTimeTrigger(checkPositiveDuration(parseDuration(interval, 'trigger interval'), 'trigger interval'));
  }

  onElement(_element: unknown, timestampMs: number, window: Window, ctx: TriggerContext): TriggerResult {
    if (window.maxTimestamp() <= ctx.currentWatermark()) return 'fire';
    ctx.registerEventTimeTimer(window.maxTimestamp());
    const fireTime = ctx.getPartitionedState(this.fireTimeState);
    // Flink aligns with Java's truncating `%`, which JS's `%` matches.
    if (fireTime.get() === undefined) this.registerNextFireTime(timestampMs - (timestampMs % this.intervalMs), window, ctx, fireTime);
    return 'continue';
  }

  onEventTime(timeMs: number, window: Window, ctx: TriggerContext): TriggerResult {
    if (timeMs === window.maxTimestamp()) return 'fire';
    const fireTime = ctx.getPartitionedState(this.fireTimeState);
    if (fireTime.get() === timeMs) {
      fireTime.clear();
      this.registerNextFireTime(timeMs, window, ctx, fireTime);
      return 'fire';
    }
    return 'continue';
  }

  onProcessingTime(): TriggerResult {
    return 'continue';
  }

  canMerge(): boolean {
    return true;
  }

  onMerge(_window: Window, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.fireTimeState);
    const next = ctx.getPartitionedState(this.fireTimeState).get();
    if (next !== undefined) ctx.registerEventTimeTimer(next);
  }

  clear(_window: Window, ctx: TriggerContext): void {
    const fireTime = ctx.getPartitionedState(this.fireTimeState);
    const timestampMs = fireTime.get();
    if (timestampMs !== undefined) {
      ctx.deleteEventTimeTimer(timestampMs);
      fireTime.clear();
    }
  }

  private registerNextFireTime(timeMs: number, window: Window, ctx: TriggerContext, fireTime: ReducingState<number>): void {
    const next = Math.min(timeMs + this.intervalMs, window.maxTimestamp());
    fireTime.add(next);
    ctx.registerEventTimeTimer(next);
  }

  toString(): string {
    return `ContinuousEventTimeTrigger(${this.intervalMs}ms)`;
  }
}
