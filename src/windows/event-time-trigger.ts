import type { Window } from './window.ts';
import type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from './trigger.ts';

/**
 * Fires once when the watermark passes the window's end (a timer at `maxTimestamp`), and again for
 * every element that arrives after that while the window is still kept (allowed lateness): those are
 * the late firings. The default trigger of event-time assigners.
 */
export class EventTimeTrigger implements Trigger<unknown, Window> {
  static create(): EventTimeTrigger {
    return new EventTimeTrigger();
  }

  onElement(_element: unknown, _timestampMs: number, window: Window, ctx: TriggerContext): TriggerResult {
    if (window.maxTimestamp() <= ctx.currentWatermark()) return 'fire';
    ctx.registerEventTimeTimer(window.maxTimestamp());
    return 'continue';
  }

  onEventTime(timeMs: number, window: Window): TriggerResult {
    return timeMs === window.maxTimestamp() ? 'fire' : 'continue';
  }

  onProcessingTime(): TriggerResult {
    return 'continue';
  }

  canMerge(): boolean {
    return true;
  }

  onMerge(window: Window, ctx: OnMergeContext): void {
    // Only register while the watermark has not passed the merged window; otherwise it would fire
    // immediately from a timer instead of from the element that caused the merge (Flink's rule).
    if (window.maxTimestamp() > ctx.currentWatermark()) ctx.registerEventTimeTimer(window.maxTimestamp());
  }

  clear(window: Window, ctx: TriggerContext): void {
    ctx.deleteEventTimeTimer(window.maxTimestamp());
  }

  toString(): string {
    return 'EventTimeTrigger()';
  }
}
