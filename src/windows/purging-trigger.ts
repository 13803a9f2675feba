import type { Window } from './window.ts';
import type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from './trigger.ts';

/** Wraps a trigger so that every firing also purges the window's contents (`fire` ▶ `fire-and-purge`). */
export class PurgingTrigger<T, W extends Window> implements Trigger<T, W> {
  private constructor(readonly nestedTrigger: Trigger<T, W>) {}

  static of<T, W extends Window>(nestedTrigger: Trigger<T, W>): PurgingTrigger<T, W> {
    return new PurgingTrigger(nestedTrigger);
  }

  onElement(element: T, timestampMs: number, window: W, ctx: TriggerContext): TriggerResult {
    return purging(this.nestedTrigger.onElement(element, timestampMs, window, ctx));
  }

  onEventTime(timeMs: number, window: W, ctx: TriggerContext): TriggerResult {
    return purging(this.nestedTrigger.onEventTime(timeMs, window, ctx));
  }

  onProcessingTime(timeMs: number, window: W, ctx: TriggerContext): TriggerResult {
    return purging(this.nestedTrigger.onProcessingTime(timeMs, window, ctx));
  }

  canMerge(): boolean {
    return this.nestedTrigger.canMerge();
  }

  onMerge(window: W, ctx: OnMergeContext): void {
    this.nestedTrigger.onMerge(window, ctx);
  }

  clear(window: W, ctx: TriggerContext): void {
    this.nestedTrigger.clear(window, ctx);
  }

  toString(): string {
    return `PurgingTrigger(${String(this.nestedTrigger)})`;
  }
}

function purging(result: TriggerResult): TriggerResult {
  return result === 'fire' ? 'fire-and-purge' : result;
}
