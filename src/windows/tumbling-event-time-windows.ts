import { AlignedWindowsMemo, fixedSizeTimeWindowCodec, type TimeWindow } from './time-window.ts';
import { EventTimeTrigger } from './event-time-trigger.ts';
import { requireEventTime } from './event-time-record.ts';
import { offsetMs, windowSizeMs } from './window-arguments.ts';
import type { NonMergingWindowAssigner } from './window-assigner.ts';
import type { Trigger } from './trigger.ts';
import type { NamespaceCodec } from '../state/keyed-state-backend.ts';

/**
 * Fixed-size, non-overlapping event-time windows `[start, start + size)` aligned to the epoch plus
 * `offset`: each element falls into exactly one.
 */
export class TumblingEventTimeWindows implements NonMergingWindowAssigner<unknown, TimeWindow> {
  readonly isEventTime = true;
  readonly isMerging = false;
  readonly namespaceCodec: NamespaceCodec<TimeWindow>;
  readonly sizeMs: number;
  readonly offsetMs: number;
  private readonly memo: AlignedWindowsMemo;

  private constructor(sizeMs: number, offsetMs: number) {
    this.sizeMs = sizeMs;
    this.offsetMs = offsetMs;
    this.namespaceCodec = fixedSizeTimeWindowCodec(sizeMs);
    this.memo = new AlignedWindowsMemo(sizeMs, sizeMs, offsetMs);
  }

  /** `size` and `offset` in milliseconds or as durations (`'1h'`); `|offset| < size`. */
  static of(size: number | string, offset?: number | string): TumblingEventTimeWindows {
    const sizeMs = windowSizeMs(size);
    return new TumblingEventTimeWindows(sizeMs, offsetMs(offset, sizeMs, 'size'));
  }

  assignWindows(_element: unknown, timestampMs: number): readonly TimeWindow[] {
    return this.memo.assign(requireEventTime(timestampMs, 'TumblingEventTimeWindows'));
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return EventTimeTrigger.create();
  }

  toString(): string {
    return `TumblingEventTimeWindows(${this.sizeMs}ms, offset ${this.offsetMs}ms)`;
  }
}
