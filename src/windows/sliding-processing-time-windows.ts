import type { TimeWindow } from './time-window.ts';
import { timeWindowCodec } from './time-window.ts';
import { ProcessingTimeTrigger } from './processing-time-trigger.ts';
import { assignSlidingWindows } from './sliding-event-time-windows.ts';
import { offsetMs, slideMs, windowSizeMs } from './window-arguments.ts';
import type { NonMergingWindowAssigner, WindowAssignerContext } from './window-assigner.ts';
import type { Trigger } from './trigger.ts';

/** Sliding windows over the processing-time clock at the moment each element arrives. */
export class SlidingProcessingTimeWindows implements NonMergingWindowAssigner<unknown, TimeWindow> {
  readonly isEventTime = false;
  readonly isMerging = false;
  readonly namespaceCodec = timeWindowCodec;

  private constructor(
    readonly sizeMs: number,
    readonly slideMs: number,
    readonly offsetMs: number,
  ) {}

  static of(size: number | string, slide: number | string, offset?: number | string): SlidingProcessingTimeWindows {
    const sizeMs = windowSizeMs(size);
    const slideMsValue = slideMs(slide, sizeMs);
    return new SlidingProcessingTimeWindows(sizeMs, slideMsValue, offsetMs(offset, slideMsValue, 'slide'));
  }

  assignWindows(_element: unknown, _timestampMs: number, context: WindowAssignerContext): readonly TimeWindow[] {
    return assignSlidingWindows(context.currentProcessingTime(), this.sizeMs, this.slideMs, this.offsetMs);
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  toString(): string {
    return `SlidingProcessingTimeWindows(${this.sizeMs}ms, ${this.slideMs}ms, offset ${this.offsetMs}ms)`;
  }
}
