import { TimeWindow, getWindowStartWithOffset, timeWindowCodec } from './time-window.ts';
import { ProcessingTimeTrigger } from './processing-time-trigger.ts';
import { offsetMs, windowSizeMs } from './window-arguments.ts';
import type { NonMergingWindowAssigner, WindowAssignerContext } from './window-assigner.ts';
import type { Trigger } from './trigger.ts';

/** Fixed-size, non-overlapping windows over the processing-time clock at the moment each element arrives. */
export class TumblingProcessingTimeWindows implements NonMergingWindowAssigner<unknown, TimeWindow> {
  readonly isEventTime = false;
  readonly isMerging = false;
  readonly namespaceCodec = timeWindowCodec;

  private constructor(
    readonly sizeMs: number,
    readonly offsetMs: number,
  ) {}

  static of(size: number | string, offset?: number | string): TumblingProcessingTimeWindows {
    const sizeMs = windowSizeMs(size);
    return new TumblingProcessingTimeWindows(sizeMs, offsetMs(offset, sizeMs, 'size'));
  }

  assignWindows(_element: unknown, _timestampMs: number, context: WindowAssignerContext): readonly TimeWindow[] {
    const start = getWindowStartWithOffset(context.currentProcessingTime(), this.offsetMs, this.sizeMs);
    return [new TimeWindow(start, start + this.sizeMs)];
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  toString(): string {
    return `TumblingProcessingTimeWindows(${this.sizeMs}ms, offset ${this.offsetMs}ms)`;
  }
}
