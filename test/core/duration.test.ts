import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.ts';
import { ConfigurationError } from '../../src/core/errors.ts';

describe('parseDuration', () => {
  it('parses units, combinations and plain milliseconds', () => {
    const cases: Array<[string | number, number]> = [
      ['500ms', 500],
      ['10s', 10_000],
      ['5m', 300_000],
      ['5min', 300_000],
      ['1h', 3_600_000],
      ['2d', 172_800_000],
      ['1h30m', 5_400_000],
      ['1d2h3m4s5ms', 93_784_005],
      ['250', 250],
      [' 10s ', 10_000],
      ['1.5s', 1_500],
      ['-5s', -5_000],
      ['0', 0],
      [750, 750],
    ];
    for (const [input, expected] of cases) expect(parseDuration(input), String(input)).toBe(expected);
  });

  it('rejects what is not a whole number of milliseconds, naming the input and the fix', () => {
    for (const bad of ['abc', '', '10 parsecs', '1h 30x', '0.5ms', 'ms', '1h-30m']) {
      expect(() => parseDuration(bad), bad).toThrow(ConfigurationError);
    }
    expect(() => parseDuration('abc', 'window size')).toThrow(/window size 'abc' is not a duration: write it as e\.g\. 500ms/);
    expect(() => parseDuration(1.5)).toThrow(/whole number of milliseconds, got 1.5/);
    expect(() => parseDuration(Number.NaN)).toThrow(ConfigurationError);
  });
});

describe('formatDuration', () => {
  it('formats compactly', () => {
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(1_500)).toBe('1500ms');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(86_401_000)).toBe('1d1s');
    expect(formatDuration(-60_000)).toBe('-1m');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('Infinity');
  });

  it('law: parse(format(ms)) = ms for every non-negative whole number of milliseconds', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.nat(10_000).map((n) => n * 1_000), fc.nat(1_000).map((n) => n * 60_000)), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });
});
