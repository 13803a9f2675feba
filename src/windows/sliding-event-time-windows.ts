import { AlignedWindowsMemo, TimeWindow, fixedSizeTimeWindowCodec, getWindowStartWithOffset } from './time-window.ts';
import { EventTimeTrigger } from './event-time-trigger.ts';
import { requireEventTime } from './event-time-record.ts';
import { offsetMs, slideMs, windowSizeMs } from './window-arguments.ts';
import type { NonMergingWindowAssigner } from './window-assigner.ts';
import type { Trigger } from './trigger.ts';
import type { NamespaceCodec } from '../state/keyed-state-backend.ts';

/**
 * Event-time windows of length `size` starting every `slide` (aligned to the epoch plus `offset`):
 * each element falls into `⌈size / slide⌉` or `⌊size / slide⌋` windows, newest first.
 */
export class SlidingEventTimeWindows implements NonMergingWindowAssigner<unknown, TimeWindow> {
  readonly isEventTime = true;
  readonly isMerging = false;
  readonly namespaceCodec: NamespaceCodec<TimeWindow>;
  readonly sizeMs: number;
  readonly slideMs: number;
  readonly offsetMs: number;
  private readonly memo: AlignedWindowsMemo;

  private constructor(sizeMs: number, slideMs: number, offsetMs: number) {
    this.sizeMs = sizeMs;
    this.slideMs = slideMs;
    this.offsetMs = offsetMs;
    this.namespaceCodec = fixedSizeTimeWindowCodec(sizeMs);
    this.memo = new AlignedWindowsMemo(sizeMs, slideMs, offsetMs);
  }

  /** `0 < slide ≤ size`, `|offset| < slide`; each in milliseconds or as a duration string. */
  static of(size: number | string, slide: number | string, offset?: number | string): SlidingEventTimeWindows {
    const sizeMs = windowSizeMs(size);
    const slideMsValue = slideMs(slide, sizeMs);
    return new SlidingEventTimeWindows(sizeMs, slideMsValue, offsetMs(offset, slideMsValue, 'slide'));
  }

  assignWindows(_element: unknown, timestampMs: number): readonly TimeWindow[] {
    return this.memo.assign(requireEventTime(timestampMs, 'SlidingEventTimeWindows'));
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return EventTimeTrigger.create();
  }

  toString(): string {
    return `SlidingEventTimeWindows(${this.sizeMs}ms, ${this.slideMs}ms, offset ${this.offsetMs}ms)`;
  }
}

/** Every window `[start, start + size)` with `start ≡ offset (mod slide)` containing `timestampMs`, latest start first. */
export function assignSlidingWindows(timestampMs: number, sizeMs: number, slideMs: number, offsetMs: number): TimeWindow[] {
  const windows: TimeWindow[] = [];
  const lastStart = getWindowStartWithOffset(timestampMs, offsetMs, slideMs);
  for (let start = lastStart; start > timestampMs - sizeMs; start -= slideMs) {
    windows.push(new TimeWindow(start, start + sizeMs));
  }
  return windows;
}
