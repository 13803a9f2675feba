import { GlobalWindow, globalWindowCodec } from './global-window.ts';
import { NeverTrigger } from './never-trigger.ts';
import type { NonMergingWindowAssigner } from './window-assigner.ts';
import type { Trigger } from './trigger.ts';

const SINGLE_GLOBAL_WINDOW: readonly GlobalWindow[] = [GlobalWindow.INSTANCE];

/**
 * Puts every element of a key into the one {@link GlobalWindow}. Its default trigger never fires:
 * pair it with a trigger (count windows are `GlobalWindows` + `PurgingTrigger.of(CountTrigger.of(n))`).
 * Not event time, so nothing is ever late and the window is never cleaned up by time.
 */
export class GlobalWindows implements NonMergingWindowAssigner<unknown, GlobalWindow> {
  readonly isEventTime = false;
  readonly isMerging = false;
  readonly namespaceCodec = globalWindowCodec;

  static create(): GlobalWindows {
    return new GlobalWindows();
  }

  assignWindows(): readonly GlobalWindow[] {
    return SINGLE_GLOBAL_WINDOW;
  }

  getDefaultTrigger(): Trigger<unknown, GlobalWindow> {
    return NeverTrigger.create();
  }

  toString(): string {
    return 'GlobalWindows()';
  }
}
