import { AlignedWindowsMemo, fixedSizeTimeWindowCodec, type TimeWindow } from './time-window.ts';
import { ProcessingTimeTrigger } from './processing-time-trigger.ts';
import { offsetMs, windowSizeMs } from './window-arguments.ts';
import type { NonMergingWindowAssigner, WindowAssignerContext } from './window-assigner.ts';
import type { Trigger } from './trigger.ts';
import type { NamespaceCodec } from '../state/keyed-state-backend.ts';

/** Fixed-size, non-overlapping windows over the processing-time clock at the moment each element arrives. */
export class TumblingProcessingTimeWindows implements NonMergingWindowAssigner<unknown, TimeWindow> {
  readonly isEventTime = false;
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

  static of(size: number | string, offset?: number | string): TumblingProcessingTimeWindows {
    const sizeMs = windowSizeMs(size);
    return new TumblingProcessingTimeWindows(sizeMs, offsetMs(offset, sizeMs, 'size'));
  }

  assignWindows(_element: unknown, _timestampMs: number, context: WindowAssignerContext): readonly TimeWindow[] {
    return this.memo.assign(context.currentProcessingTime());
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  toString(): string {
    return `TumblingProcessingTimeWindows(${this.sizeMs}ms, offset ${this.offsetMs}ms)`;
  }
}
