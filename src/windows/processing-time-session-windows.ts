import { TimeWindow, mergeTimeWindows, timeWindowCodec } from './time-window.ts';
import { ProcessingTimeTrigger } from './processing-time-trigger.ts';
import { sessionGapMs } from './window-arguments.ts';
import { checkDynamicGap, type SessionGapExtractor } from './session-gap.ts';
import type { MergeCallback, MergingWindowAssigner, WindowAssignerContext } from './window-assigner.ts';
import type { Trigger } from './trigger.ts';

/** Sessions over the processing-time clock: an element arriving at `now` opens `[now, now + gap)`. */
export class ProcessingTimeSessionWindows<T = unknown> implements MergingWindowAssigner<T, TimeWindow> {
  readonly isEventTime = false;
  readonly isMerging = true;
  readonly namespaceCodec = timeWindowCodec;

  private constructor(
    readonly gapMs: number,
    private readonly gapExtractor: SessionGapExtractor<T> | undefined,
  ) {}

  static withGap(gap: number | string): ProcessingTimeSessionWindows {
    return new ProcessingTimeSessionWindows<unknown>(sessionGapMs(gap), undefined);
  }

  static withDynamicGap<T>(extractor: SessionGapExtractor<T>): ProcessingTimeSessionWindows<T> {
    return new ProcessingTimeSessionWindows<T>(Number.NaN, extractor);
  }

  assignWindows(element: T, _timestampMs: number, context: WindowAssignerContext): readonly TimeWindow[] {
    const nowMs = context.currentProcessingTime();
    const gapMs = this.gapExtractor === undefined ? this.gapMs : checkDynamicGap(this.gapExtractor(element));
    return [new TimeWindow(nowMs, nowMs + gapMs)];
  }

  mergeWindows(windows: readonly TimeWindow[], callback: MergeCallback<TimeWindow>): void {
    mergeTimeWindows(windows, callback);
  }

  getDefaultTrigger(): Trigger<T, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  toString(): string {
    return this.gapExtractor === undefined
      ? `ProcessingTimeSessionWindows(${this.gapMs}ms)`
      : 'ProcessingTimeSessionWindows(dynamic gap)';
  }
}
