import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TimeWindow, getWindowStartWithOffset, mergeTimeWindows, timeWindowCodec } from '../../src/windows/time-window.ts';
import { GlobalWindow, globalWindowCodec } from '../../src/windows/global-window.ts';
import { MAX_WATERMARK } from '../../src/core/time.ts';

const timestamp = fc.integer({ min: -1e12, max: 1e12 });

describe('TimeWindow', () => {
  it('is [start, end) with maxTimestamp = end − 1', () => {
    const window = new TimeWindow(10, 20);
    expect(window.maxTimestamp()).toBe(19);
    expect(String(window)).toBe('TimeWindow[10, 20)');
  });

  it('intersects when overlapping or touching (Flink), not when apart', () => {
    expect(new TimeWindow(0, 5).intersects(new TimeWindow(5, 10))).toBe(true);
    expect(new TimeWindow(5, 10).intersects(new TimeWindow(0, 5))).toBe(true);
    expect(new TimeWindow(0, 5).intersects(new TimeWindow(3, 4))).toBe(true);
    expect(new TimeWindow(0, 5).intersects(new TimeWindow(6, 10))).toBe(false);
  });

  it('cover spans both windows', () => {
    expect(new TimeWindow(0, 5).cover(new TimeWindow(8, 10)).equals(new TimeWindow(0, 10))).toBe(true);
  });

  it('codec ids are unique per bounds and plain data round-trips', () => {
    fc.assert(
      fc.property(timestamp, timestamp, timestamp, timestamp, (a, b, c, d) => {
        const x = new TimeWindow(a, b);
        const y = new TimeWindow(c, d);
        expect(timeWindowCodec.idOf(x) === timeWindowCodec.idOf(y)).toBe(a === c && b === d);
        expect(timeWindowCodec.fromPlain(timeWindowCodec.toPlain(x)).equals(x)).toBe(true);
      }),
    );
    expect(() => timeWindowCodec.fromPlain('x')).toThrow(/\[start, end\]/);
  });

  it('global window ends at the max watermark and round-trips', () => {
    expect(GlobalWindow.INSTANCE.maxTimestamp()).toBe(MAX_WATERMARK);
    expect(globalWindowCodec.fromPlain(globalWindowCodec.toPlain(GlobalWindow.INSTANCE))).toBe(GlobalWindow.INSTANCE);
  });
});

describe('getWindowStartWithOffset', () => {
  it('matches known values, including before the epoch', () => {
    expect(getWindowStartWithOffset(0, 0, 10)).toBe(0);
    expect(getWindowStartWithOffset(9, 0, 10)).toBe(0);
    expect(getWindowStartWithOffset(10, 0, 10)).toBe(10);
    expect(getWindowStartWithOffset(-1, 0, 10)).toBe(-10);
    expect(getWindowStartWithOffset(-10, 0, 10)).toBe(-10);
    expect(getWindowStartWithOffset(-11, 0, 10)).toBe(-20);
    // Flink's old formula ts − (ts − offset + size) % size gives −20 + 5 = −15 here: a start after ts.
    expect(getWindowStartWithOffset(-25, 0, 10)).toBe(-30);
    expect(getWindowStartWithOffset(7, 3, 10)).toBe(3);
    expect(getWindowStartWithOffset(2, 3, 10)).toBe(-7);
    expect(getWindowStartWithOffset(2, -3, 10)).toBe(-3);
  });

  it('is the largest start ≤ ts congruent to the offset, for every sign', () => {
    fc.assert(
      fc.property(timestamp, fc.integer({ min: 1, max: 1e9 }), fc.integer({ min: -1e9, max: 1e9 }), (ts, size, rawOffset) => {
        const offset = rawOffset % size;
        const start = getWindowStartWithOffset(ts, offset, size);
        expect(start).toBeLessThanOrEqual(ts);
        expect(ts - start).toBeLessThan(size);
        expect((((start - offset) % size) + size) % size).toBe(0);
      }),
    );
  });
});

describe('mergeTimeWindows', () => {
  it('reports only groups of two or more, covering each group', () => {
    const calls: Array<[string[], string]> = [];
    mergeTimeWindows(
      [new TimeWindow(10, 15), new TimeWindow(0, 5), new TimeWindow(5, 8), new TimeWindow(20, 25)],
      (toBeMerged, result) => calls.push([toBeMerged.map(String), String(result)]),
    );
    expect(calls).toEqual([[['TimeWindow[0, 5)', 'TimeWindow[5, 8)'], 'TimeWindow[0, 8)']]);
  });
});
