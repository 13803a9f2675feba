import { AlignedWindowsMemo, fixedSizeTimeWindowCodec, type TimeWindow } from './time-window.ts';
import { ProcessingTimeTrigger } from './processing-time-trigger.ts';
import { offsetMs, slideMs, windowSizeMs } from './window-arguments.ts';
import type { NonMergingWindowAssigner, WindowAssignerContext } from './window-assigner.ts';
import type { Trigger } from './trigger.ts';
import type { NamespaceCodec } from '../state/keyed-state-backend.ts';

/** Sliding windows over the processing-time clock at the moment each element arrives. */
export class SlidingProcessingTimeWindows implements NonMergingWindowAssigner<unknown, TimeWindow> {
  readonly isEventTime = false;
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

  static of(size: number | string, slide: number | string, offset?: number | string): SlidingProcessingTimeWindows {
    const sizeMs = windowSizeMs(size);
    const slideMsValue = slideMs(slide, sizeMs);
    return new SlidingProcessingTimeWindows(sizeMs, slideMsValue, offsetMs(offset, slideMsValue, 'slide'));
  }

  assignWindows(_element: unknown, _timestampMs: number, context: WindowAssignerContext): readonly TimeWindow[] {
    return this.memo.assign(context.currentProcessingTime());
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  toString(): string {
    return `SlidingProcessingTimeWindows(${this.sizeMs}ms, ${this.slideMs}ms, offset ${this.offsetMs}ms)`;
  }
}
