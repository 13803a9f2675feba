import { ConfigurationError } from '../core/errors.ts';
import { reducingState } from '../state/descriptors.ts';
import type { Window } from './window.ts';
import type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from './trigger.ts';

const sum = (a: number, b: number): number => a + b;

/**
 * Fires every `maxCount` elements of a window (counted in trigger state, reset at each firing). It
 * does not purge: wrap it in {@link PurgingTrigger} for count-tumbling windows.
 */
export class CountTrigger implements Trigger<unknown, Window> {
  private readonly countState = reducingState<number>('count-trigger-count', sum);

  private constructor(readonly maxCount: number) {}

  static of(maxCount: number): CountTrigger {
    if (!Number.isInteger(maxCount) || maxCount <= 0) {
      throw new ConfigurationError(`count trigger: the count must be a whole number > 0, got ${maxCount}`);
    }
    return new CountTrigger(maxCount);
  }

  onElement(_element: unknown, _timestampMs: number, _window: Window, ctx: TriggerContext): TriggerResult {
    const count = ctx.getPartitionedState(this.countState);
    count.add(1);
    if ((count.get() ?? 0) >= this.maxCount) {
      count.clear();
      return 'fire';
    }
    return 'continue';
  }

  onEventTime(): TriggerResult {
    return 'continue';
  }

  onProcessingTime(): TriggerResult {
    return 'continue';
  }

  canMerge(): boolean {
    return true;
  }

  onMerge(_window: Window, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.countState);
  }

  clear(_window: Window, ctx: TriggerContext): void {
    ctx.getPartitionedState(this.countState).clear();
  }

  toString(): string {
    return `CountTrigger(${this.maxCount})`;
  }
}
