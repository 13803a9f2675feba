import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigurationError, EddyError } from '../../src/core/errors.ts';
import { TumblingEventTimeWindows } from '../../src/windows/tumbling-event-time-windows.ts';
import { TumblingProcessingTimeWindows } from '../../src/windows/tumbling-processing-time-windows.ts';
import { SlidingEventTimeWindows } from '../../src/windows/sliding-event-time-windows.ts';
import { SlidingProcessingTimeWindows } from '../../src/windows/sliding-processing-time-windows.ts';
import { EventTimeSessionWindows } from '../../src/windows/event-time-session-windows.ts';
import { ProcessingTimeSessionWindows } from '../../src/windows/processing-time-session-windows.ts';
import { GlobalWindows } from '../../src/windows/global-windows.ts';
import { GlobalWindow } from '../../src/windows/global-window.ts';
import { TimeWindow } from '../../src/windows/time-window.ts';
import { EventTimeTrigger } from '../../src/windows/event-time-trigger.ts';
import { ProcessingTimeTrigger } from '../../src/windows/processing-time-trigger.ts';
import { NeverTrigger } from '../../src/windows/never-trigger.ts';

const noClock = { currentProcessingTime: (): number => 0 };
const timestamp = fc.integer({ min: -1e12, max: 1e12 });
const mod = (a: number, m: number): number => ((a % m) + m) % m;

describe('window assigner arguments', () => {
  it('rejects bad sizes, slides and offsets with sentences', () => {
    expect(() => TumblingEventTimeWindows.of(-5000)).toThrow('window size must be > 0, got -5s');
    expect(() => TumblingEventTimeWindows.of(0)).toThrow(ConfigurationError);
    expect(() => TumblingEventTimeWindows.of(1.5)).toThrow(/whole number of milliseconds/);
    expect(() => TumblingEventTimeWindows.of(10, 10)).toThrow('offset must satisfy |offset| < size, got offset 10ms for size 10ms');
    expect(() => TumblingEventTimeWindows.of(10, -10)).toThrow(/\|offset\| < size/);
    expect(() => SlidingEventTimeWindows.of(10, 0)).toThrow(/^slide must be > 0 and ≤ size, got 0ms/);
    expect(() => SlidingEventTimeWindows.of(10, 11)).toThrow(/slide must be > 0 and ≤ size/);
    expect(() => SlidingEventTimeWindows.of(10, 5, 5)).toThrow(/\|offset\| < slide/);
    expect(() => SlidingProcessingTimeWindows.of('1s', '0s')).toThrow(/slide must be > 0/);
    expect(() => EventTimeSessionWindows.withGap(0)).toThrow('session gap must be > 0, got 0ms');
    expect(() => ProcessingTimeSessionWindows.withGap(-1)).toThrow(/session gap must be > 0/);
    expect(() => TumblingProcessingTimeWindows.of('soon')).toThrow(/not a duration/);
  });

  it('accepts duration strings', () => {
    expect(TumblingEventTimeWindows.of('5s', '1s').sizeMs).toBe(5000);
    expect(SlidingEventTimeWindows.of('1m', '10s').slideMs).toBe(10_000);
    expect(EventTimeSessionWindows.withGap('30s').gapMs).toBe(30_000);
  });

  it('event-time assigners reject records without event time', () => {
    const message = /record has no event time: set a timestamp assigner in the WatermarkStrategy or use processing-time windows/;
    expect(() => TumblingEventTimeWindows.of(10).assignWindows('x', Number.NaN)).toThrow(message);
    expect(() => SlidingEventTimeWindows.of(10, 5).assignWindows('x', Number.NaN)).toThrow(EddyError);
    expect(() => EventTimeSessionWindows.withGap(10).assignWindows('x', Number.NaN)).toThrow(message);
  });

  it('processing-time assigners use the clock, not the record timestamp', () => {
    const clock = { currentProcessingTime: (): number => 1234 };
    expect(TumblingProcessingTimeWindows.of(100).assignWindows('x', Number.NaN, clock)).toEqual([new TimeWindow(1200, 1300)]);
    expect(SlidingProcessingTimeWindows.of(100, 50).assignWindows('x', 0, clock)).toEqual([
      new TimeWindow(1200, 1300),
      new TimeWindow(1150, 1250),
    ]);
    expect(ProcessingTimeSessionWindows.withGap(10).assignWindows('x', 0, clock)).toEqual([new TimeWindow(1234, 1244)]);
  });

  it('default triggers and time domain', () => {
    expect(TumblingEventTimeWindows.of(10).getDefaultTrigger()).toBeInstanceOf(EventTimeTrigger);
    expect(TumblingEventTimeWindows.of(10).isEventTime).toBe(true);
    expect(TumblingProcessingTimeWindows.of(10).getDefaultTrigger()).toBeInstanceOf(ProcessingTimeTrigger);
    expect(ProcessingTimeSessionWindows.withGap(10).isMerging).toBe(true);
    expect(GlobalWindows.create().getDefaultTrigger()).toBeInstanceOf(NeverTrigger);
    expect(GlobalWindows.create().isEventTime).toBe(false);
    expect(GlobalWindows.create().assignWindows()).toEqual([GlobalWindow.INSTANCE]);
  });
});

describe('tumbling windows (properties)', () => {
  it('exactly one window of the size, containing the timestamp, start ≡ offset (mod size)', () => {
    fc.assert(
      fc.property(timestamp, fc.integer({ min: 1, max: 1e8 }), fc.integer({ min: -1e8, max: 1e8 }), (ts, size, rawOffset) => {
        const offset = rawOffset % size;
        const windows = TumblingEventTimeWindows.of(size, offset).assignWindows(null, ts);
        expect(windows).toHaveLength(1);
        const [window] = windows as [TimeWindow];
        expect(window.start <= ts && ts <= window.maxTimestamp()).toBe(true);
        expect(window.end - window.start).toBe(size);
        expect(mod(window.start - offset, size)).toBe(0);
      }),
    );
  });
});

describe('sliding windows (properties)', () => {
  it('every window contains the timestamp, starts are distinct and aligned, count is size/slide', () => {
    fc.assert(
      fc.property(
        timestamp,
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: -1000, max: 1000 }),
        (ts, slide, factor, rawOffset) => {
          const size = slide * factor;
          const offset = rawOffset % slide;
          const windows = SlidingEventTimeWindows.of(size, slide, offset).assignWindows(null, ts) as TimeWindow[];
          expect(windows).toHaveLength(factor);
          const starts = new Set<number>();
          for (const window of windows) {
            expect(window.start <= ts && ts <= window.maxTimestamp()).toBe(true);
            expect(window.end - window.start).toBe(size);
            expect(mod(window.start - offset, slide)).toBe(0);
            starts.add(window.start);
          }
          expect(starts.size).toBe(factor);
        },
      ),
    );
  });

  it('count is ⌊size/slide⌋ or ⌈size/slide⌉ when slide does not divide size, and the set is complete', () => {
    fc.assert(
      fc.property(timestamp, fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 500 }), (ts, slide, extra) => {
        const size = Math.max(slide, extra);
        const windows = SlidingEventTimeWindows.of(size, slide).assignWindows(null, ts) as TimeWindow[];
        const count = windows.length;
        expect(count === Math.floor(size / slide) || count === Math.ceil(size / slide)).toBe(true);
        // Brute force: every aligned start s with s ≤ ts < s + size.
        let expected = 0;
        for (let s = ts - size - slide; s <= ts; s++) if (mod(s, slide) === 0 && s + size > ts) expected++;
        expect(count).toBe(expected);
      }),
    );
  });
});

describe('session windows assignment', () => {
  it('assigns [ts, ts + gap), static or dynamic', () => {
    expect(EventTimeSessionWindows.withGap(10).assignWindows('x', -5)).toEqual([new TimeWindow(-5, 5)]);
    const dynamic = EventTimeSessionWindows.withDynamicGap((v: { gapMs: number }) => v.gapMs);
    expect(dynamic.assignWindows({ gapMs: 7 }, 100)).toEqual([new TimeWindow(100, 107)]);
    expect(() => dynamic.assignWindows({ gapMs: 0 }, 100)).toThrow(/dynamic session gap must be a whole number of milliseconds > 0/);
    const processing = ProcessingTimeSessionWindows.withDynamicGap((v: number) => v);
    expect(processing.assignWindows(3, 0, noClock)).toEqual([new TimeWindow(0, 3)]);
  });
});
