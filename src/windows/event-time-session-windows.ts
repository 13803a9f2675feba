import { TimeWindow, mergeTimeWindows, timeWindowCodec } from './time-window.ts';
import { EventTimeTrigger } from './event-time-trigger.ts';
import { requireEventTime } from './event-time-record.ts';
import { sessionGapMs } from './window-arguments.ts';
import { checkDynamicGap, type SessionGapExtractor } from './session-gap.ts';
import type { MergeCallback, MergingWindowAssigner } from './window-assigner.ts';
import type { Trigger } from './trigger.ts';

/**
 * Event-time sessions: each element opens `[ts, ts + gap)`, and windows that overlap or touch merge,
 * so a session ends once no element arrived for `gap` after its last one. The gap is fixed
 * ({@link withGap}) or computed per element ({@link withDynamicGap}).
 */
export class EventTimeSessionWindows<T = unknown> implements MergingWindowAssigner<T, TimeWindow> {
  readonly isEventTime = true;
  readonly isMerging = true;
  readonly namespaceCodec = timeWindowCodec;

  private constructor(
    readonly gapMs: number,
    private readonly gapExtractor: SessionGapExtractor<T> | undefined,
  ) {}

  static withGap(gap: number | string): EventTimeSessionWindows {
    return new EventTimeSessionWindows<unknown>(sessionGapMs(gap), undefined);
  }

  static withDynamicGap<T>(extractor: SessionGapExtractor<T>): EventTimeSessionWindows<T> {
    return new EventTimeSessionWindows<T>(Number.NaN, extractor);
  }

  assignWindows(element: T, timestampMs: number): readonly TimeWindow[] {
    const ts = requireEventTime(timestampMs, 'EventTimeSessionWindows');
    const gapMs = this.gapExtractor === undefined ? this.gapMs : checkDynamicGap(this.gapExtractor(element));
    return [new TimeWindow(ts, ts + gapMs)];
  }

  mergeWindows(windows: readonly TimeWindow[], callback: MergeCallback<TimeWindow>): void {
    mergeTimeWindows(windows, callback);
  }

  getDefaultTrigger(): Trigger<T, TimeWindow> {
    return EventTimeTrigger.create();
  }

  toString(): string {
    return this.gapExtractor === undefined ? `EventTimeSessionWindows(${this.gapMs}ms)` : 'EventTimeSessionWindows(dynamic gap)';
  }
}
