import { TimeWindow, getWindowStartWithOffset, timeWindowCodec } from './time-window.ts';
import { EventTimeTrigger } from './event-time-trigger.ts';
import { requireEventTime } from './event-time-record.ts';
import { offsetMs, windowSizeMs } from './window-arguments.ts';
import type { NonMergingWindowAssigner } from './window-assigner.ts';
import type { Trigger } from './trigger.ts';

/**
 * Fixed-size, non-overlapping event-time windows `[start, start + size)` aligned to the epoch plus
 * `offset`: each element falls into exactly one.
 */
export class TumblingEventTimeWindows implements NonMergingWindowAssigner<unknown, TimeWindow> {
  readonly isEventTime = true;
  readonly isMerging = false;
  readonly namespaceCodec = timeWindowCodec;

  private constructor(
    readonly sizeMs: number,
    readonly offsetMs: number,
  ) {}

  /** `size` and `offset` in milliseconds or as durations (`'1h'`); `|offset| < size`. */
  static of(size: number | string, offset?: number | string): TumblingEventTimeWindows {
    const sizeMs = windowSizeMs(size);
    return new TumblingEventTimeWindows(sizeMs, offsetMs(offset, sizeMs, 'size'));
  }

  assignWindows(_element: unknown, timestampMs: number): readonly TimeWindow[] {
    const start = getWindowStartWithOffset(requireEventTime(timestampMs, 'TumblingEventTimeWindows'), this.offsetMs, this.sizeMs);
    return [new TimeWindow(start, start + this.sizeMs)];
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return EventTimeTrigger.create();
  }

  toString(): string {
    return `TumblingEventTimeWindows(${this.sizeMs}ms, offset ${this.offsetMs}ms)`;
  }
}
