import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OperatorTestHarness } from '../harness/operator-test-harness.ts';
import { OutputTag } from '../../src/core/output-tag.ts';
import { MIN_WATERMARK } from '../../src/core/time.ts';
import { WindowOperator } from '../../src/windows/window-operator.ts';
import { processWindow } from '../../src/windows/process-window-function.ts';
import type { Window } from '../../src/windows/window.ts';
import type { TimeWindow } from '../../src/windows/time-window.ts';
import { TumblingEventTimeWindows } from '../../src/windows/tumbling-event-time-windows.ts';
import { SlidingEventTimeWindows } from '../../src/windows/sliding-event-time-windows.ts';
import { EventTimeSessionWindows } from '../../src/windows/event-time-session-windows.ts';
import type { WindowAssigner } from '../../src/windows/window-assigner.ts';

/**
 * Reference model: a deliberately naive re-implementation of Flink's event-time window semantics with
 * the default EventTimeTrigger, allowed lateness and a late-data side output. It keeps, per key, the
 * live windows with their elements (recomputing session merges from scratch) and derives every firing
 * from the rules alone: on-time when the watermark passes a window's end (if a timer was pending),
 * late when an element arrives for a window whose end the watermark already passed, cleanup at
 * end + lateness, side output for elements no live window accepts.
 */
interface Event {
  readonly key: string;
  readonly value: number;
}
type Step = { readonly kind: 'element'; readonly key: string; readonly ts: number } | { readonly kind: 'watermark'; readonly advance: number };
type Shape = { readonly kind: 'tumbling'; readonly size: number } | { readonly kind: 'sliding'; readonly size: number; readonly slide: number } | { readonly kind: 'session'; readonly gap: number };

interface ModelWindow {
  start: number;
  end: number;
  values: number[];
  isTimerPending: boolean;
}

/** One observable effect, canonical so that the order within one input step does not matter. */
type Effect = string;

const lateTag = new OutputTag<Event>('late');

function firing(key: string, start: number, end: number, values: readonly number[], kind: string): Effect {
  return `fire ${key} [${start},${end}) @${end - 1} ${kind} ${values.slice().sort((a, b) => a - b).join(',')}`;
}

class Model {
  private watermark = MIN_WATERMARK;
  private readonly windowsByKey = new Map<string, ModelWindow[]>();

  constructor(
    private readonly shape: Shape,
    private readonly latenessMs: number,
  ) {}

  private windowsOf(key: string): ModelWindow[] {
    let windows = this.windowsByKey.get(key);
    if (windows === undefined) this.windowsByKey.set(key, (windows = []));
    return windows;
  }

  private isLate(end: number): boolean {
    return end - 1 + this.latenessMs <= this.watermark;
  }

  element(key: string, ts: number, value: number): Effect[] {
    const effects: Effect[] = [];
    const windows = this.windowsOf(key);
    let isAccepted = false;
    const accept = (window: ModelWindow): void => {
      isAccepted = true;
      window.values.push(value);
      if (window.end - 1 <= this.watermark) effects.push(firing(key, window.start, window.end, window.values, 'late'));
      else window.isTimerPending = true;
    };
    if (this.shape.kind === 'session') {
      let start = ts;
      let end = ts + this.shape.gap;
      // Everything that touches the new window, transitively, merges with it.
      const merged: ModelWindow[] = [];
      for (let changed = true; changed; ) {
        changed = false;
        for (const w of windows) {
          if (!merged.includes(w) && w.start <= end && w.end >= start) {
            merged.push(w);
            start = Math.min(start, w.start);
            end = Math.max(end, w.end);
            changed = true;
          }
        }
      }
      if (merged.length === 0) {
        if (!this.isLate(end)) {
          const window: ModelWindow = { start, end, values: [], isTimerPending: false };
          windows.push(window);
          accept(window);
        }
      } else {
        const isSameWindow = merged.length === 1 && merged[0]!.start === start && merged[0]!.end === end;
        const window: ModelWindow = isSameWindow
          ? merged[0]!
          : { start, end, values: merged.flatMap((w) => w.values), isTimerPending: end - 1 > this.watermark };
        if (!isSameWindow) {
          for (const w of merged) windows.splice(windows.indexOf(w), 1);
          windows.push(window);
        }
        accept(window);
      }
    } else {
      const size = this.shape.size;
      const slide = this.shape.kind === 'sliding' ? this.shape.slide : size;
      const lastStart = ts - (((ts % slide) + slide) % slide);
      for (let s = lastStart; s > ts - size; s -= slide) {
        if (this.isLate(s + size)) continue;
        let window = windows.find((w) => w.start === s);
        if (window === undefined) windows.push((window = { start: s, end: s + size, values: [], isTimerPending: false }));
        accept(window);
      }
    }
    if (!isAccepted && ts + this.latenessMs <= this.watermark) effects.push(`side ${key} ${value} @${ts}`);
    return effects;
  }

  advanceWatermark(watermark: number): Effect[] {
    const effects: Effect[] = [];
    this.watermark = watermark;
    for (const [key, windows] of this.windowsByKey) {
      for (const window of windows.slice()) {
        if (window.isTimerPending && window.end - 1 <= watermark) {
          window.isTimerPending = false;
          effects.push(firing(key, window.start, window.end, window.values, 'on-time'));
        }
        if (this.isLate(window.end)) windows.splice(windows.indexOf(window), 1);
      }
    }
    return effects;
  }
}

function assignerOf(shape: Shape): WindowAssigner<Event, TimeWindow> {
  switch (shape.kind) {
    case 'tumbling':
      return TumblingEventTimeWindows.of(shape.size);
    case 'sliding':
      return SlidingEventTimeWindows.of(shape.size, shape.slide);
    case 'session':
      return EventTimeSessionWindows.withGap(shape.gap);
  }
}

function effectsOfStep(h: OperatorTestHarness<string>, from: number): Effect[] {
  const effects: Effect[] = [];
  for (const e of h.emitted.slice(from)) {
    if (e.kind === 'record') effects.push(e.value as string);
    else if (e.kind === 'side') effects.push(`side ${(e.value as Event).key} ${(e.value as Event).value} @${e.timestamp}`);
  }
  return effects;
}

const shapeArb: fc.Arbitrary<Shape> = fc.oneof(
  fc.integer({ min: 1, max: 15 }).map((size): Shape => ({ kind: 'tumbling', size })),
  fc
    .tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 3 }))
    .map(([slide, factor]): Shape => ({ kind: 'sliding', size: slide * factor, slide })),
  fc.integer({ min: 1, max: 10 }).map((gap): Shape => ({ kind: 'session', gap })),
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('element' as const), key: fc.constantFrom('a', 'b'), ts: fc.integer({ min: -20, max: 80 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('watermark' as const), advance: fc.integer({ min: 0, max: 15 }) }) },
);

describe('WindowOperator against a brute-force reference model', () => {
  it('same firings (on-time and late), cleanup and side output, for random out-of-order streams', () => {
    fc.assert(
      fc.property(
        shapeArb,
        fc.integer({ min: 0, max: 12 }),
        fc.array(stepArb, { minLength: 1, maxLength: 60 }),
        fc.option(fc.nat(60), { nil: undefined }),
        (shape, latenessMs, steps, restoreAt) => {
          const create = (): WindowOperator<Event, string, string, Window> =>
            new WindowOperator<Event, string, string, Window>({
              keySelector: (e) => e.key,
              assigner: assignerOf(shape) as WindowAssigner<Event, Window>,
              allowedLatenessMs: latenessMs,
              lateDataTag: lateTag,
              windowFunction: processWindow<Event, string, string, Window>({
                process(key, ctx, elements, out) {
                  const w = ctx.window as TimeWindow;
                  out.collect(firing(key, w.start, w.end, elements.map((e) => e.value), ctx.firingKind));
                },
              }),
            });
          let h = new OperatorTestHarness<string>(create).open();
          const model = new Model(shape, latenessMs);
          let watermark = -30;
          let hasWatermark = false;
          steps.forEach((step, i) => {
            if (i === restoreAt) {
              h = h.snapshotAndRestore();
              // The watermark is not part of operator state (as in Flink); sources re-emit it.
              if (hasWatermark) h.processWatermark(watermark);
            }
            const from = h.emitted.length;
            let expected: Effect[];
            if (step.kind === 'element') {
              h.processElement({ key: step.key, value: i }, step.ts);
              expected = model.element(step.key, step.ts, i);
            } else {
              watermark += step.advance;
              hasWatermark = true;
              h.processWatermark(watermark);
              expected = model.advanceWatermark(watermark);
            }
            expect(effectsOfStep(h, from).sort(), `step ${i}: ${JSON.stringify(step)}`).toEqual(expected.sort());
          });
          // End of input: every remaining window fires.
          const from = h.emitted.length;
          h.processWatermark(Number.MAX_SAFE_INTEGER);
          expect(effectsOfStep(h, from).sort()).toEqual(model.advanceWatermark(Number.MAX_SAFE_INTEGER).sort());
          expect(h.metrics.lateRecordsSideOutput).toBe(h.emitted.filter((e) => e.kind === 'side').length);
        },
      ),
      { numRuns: 400 },
    );
  });
});
