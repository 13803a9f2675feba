import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CountEvictor } from '../../src/windows/count-evictor.ts';
import { TimeEvictor } from '../../src/windows/time-evictor.ts';
import { DeltaEvictor } from '../../src/windows/delta-evictor.ts';
import type { TimestampedValue } from '../../src/windows/evictor.ts';

const tv = (value: number, timestampMs = value): TimestampedValue<number> => ({ value, timestampMs });

describe('CountEvictor', () => {
  it('keeps the newest n elements, before by default, after when asked', () => {
    const before = [1, 2, 3, 4, 5].map((v) => tv(v));
    CountEvictor.of(2).evictBefore(before);
    expect(before.map((e) => e.value)).toEqual([4, 5]);
    const after = [1, 2, 3].map((v) => tv(v));
    CountEvictor.of(2, true).evictBefore(after);
    expect(after).toHaveLength(3);
    CountEvictor.of(2, true).evictAfter(after);
    expect(after.map((e) => e.value)).toEqual([2, 3]);
    expect(() => CountEvictor.of(-1)).toThrow(/whole number ≥ 0/);
  });

  it('keeps min(n, size) elements, the last ones, in order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.nat(10), (values, n) => {
        const elements = values.map((v) => tv(v));
        CountEvictor.of(n).evictBefore(elements);
        expect(elements.map((e) => e.value)).toEqual(values.slice(Math.max(0, values.length - n)));
      }),
    );
  });
});

describe('TimeEvictor', () => {
  it('evicts elements with timestamp ≤ max − window', () => {
    const elements = [tv(1, 10), tv(2, 50), tv(3, 31), tv(4, 30)];
    TimeEvictor.of(20).evictBefore(elements);
    expect(elements.map((e) => e.value)).toEqual([2, 3]);
  });

  it('does nothing without timestamps', () => {
    const elements = [tv(1, Number.NaN), tv(2, 50)];
    TimeEvictor.of(1).evictBefore(elements);
    expect(elements).toHaveLength(2);
    TimeEvictor.of(1, true).evictBefore([]);
  });

  it('property: survivors are exactly those newer than max − window, order kept', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1 }), fc.integer({ min: 1, max: 500 }), (stamps, windowMs) => {
        const elements = stamps.map((ts, i) => tv(i, ts));
        TimeEvictor.of(windowMs, true).evictAfter(elements);
        const cutoff = Math.max(...stamps) - windowMs;
        expect(elements.map((e) => e.value)).toEqual(stamps.flatMap((ts, i) => (ts > cutoff ? [i] : [])));
      }),
    );
  });
});

describe('DeltaEvictor', () => {
  it('evicts elements whose delta to the last element reaches the threshold', () => {
    const elements = [1, 5, 8, 9, 10].map((v) => tv(v));
    DeltaEvictor.of(3, (a: number, b: number) => Math.abs(a - b)).evictBefore(elements);
    expect(elements.map((e) => e.value)).toEqual([8, 9, 10]);
    expect(() => DeltaEvictor.of(Number.NaN, () => 0)).toThrow(/finite/);
  });

  it('evicts after when asked', () => {
    const elements = [1, 10].map((v) => tv(v));
    const evictor = DeltaEvictor.of(3, (a: number, b: number) => Math.abs(a - b), true);
    evictor.evictBefore(elements);
    expect(elements).toHaveLength(2);
    evictor.evictAfter(elements);
    expect(elements.map((e) => e.value)).toEqual([10]);
  });
});
