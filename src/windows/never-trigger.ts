import type { Window } from './window.ts';
import type { Trigger, TriggerResult } from './trigger.ts';

/** Never fires: the default trigger of {@link GlobalWindows}, which needs a custom trigger to produce output. */
export class NeverTrigger implements Trigger<unknown, Window> {
  static create(): NeverTrigger {
    return new NeverTrigger();
  }

  onElement(): TriggerResult {
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

  onMerge(): void {}

  clear(): void {}

  toString(): string {
    return 'NeverTrigger()';
  }
}
