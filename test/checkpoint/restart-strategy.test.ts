import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import {
  ExponentialDelayRestartStrategy,
  FailureRateRestartStrategy,
  FixedDelayRestartStrategy,
  NoRestartStrategy,
  createRestartStrategy,
  parseRestartStrategy,
} from '../../src/checkpoint/restart-strategy.ts';

describe('restart strategies', () => {
  it('none never restarts', () => {
    expect(new NoRestartStrategy().nextDelay()).toBe('fail');
  });

  it('fixed-delay restarts `attempts` times, then fails', () => {
    const strategy = new FixedDelayRestartStrategy(2, 500);
    expect([strategy.nextDelay(), strategy.nextDelay(), strategy.nextDelay()]).toEqual([500, 500, 'fail']);
  });

  it('exponential-delay doubles up to the max, and starts over after a quiet period', () => {
    const strategy = new ExponentialDelayRestartStrategy(1_000, 5_000, 2, 0, 60_000);
    expect([0, 1, 2, 3, 4].map((i) => strategy.nextDelay(i * 10_000))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(strategy.nextDelay(40_000 + 60_000)).toBe(1_000);
  });

  it('exponential-delay jitter spreads each delay within ±jitter', () => {
    const low = new ExponentialDelayRestartStrategy(1_000, 8_000, 2, 0.5, 60_000, () => 0);
    const high = new ExponentialDelayRestartStrategy(1_000, 8_000, 2, 0.5, 60_000, () => 0.999_999);
    expect(low.nextDelay(0)).toBe(500);
    expect(high.nextDelay(0)).toBe(1_500);
  });

  it('failure-rate fails when more than `max` failures fall within the interval', () => {
    const strategy = new FailureRateRestartStrategy(2, 60_000, 100);
    expect(strategy.nextDelay(0)).toBe(100);
    expect(strategy.nextDelay(10_000)).toBe(100);
    expect(strategy.nextDelay(60_001)).toBe(100); // the failure at 0 left the window
    expect(strategy.nextDelay(60_002)).toBe('fail');
  });

  it('parses the --restart-strategy forms with their defaults', () => {
    expect(parseRestartStrategy('none')).toEqual({ kind: 'none' });
    expect(parseRestartStrategy('fixed-delay')).toEqual({ kind: 'fixed-delay', attempts: 3, delayMs: 1_000 });
    expect(parseRestartStrategy('fixed-delay:attempts=5,delay=2s')).toEqual({ kind: 'fixed-delay', attempts: 5, delayMs: 2_000 });
    expect(parseRestartStrategy('exponential-delay:initial=500ms,max=1m')).toMatchObject({
      kind: 'exponential-delay',
      initialMs: 500,
      maxMs: 60_000,
    });
    expect(parseRestartStrategy('failure-rate:max=3,interval=5m,delay=10s')).toEqual({
      kind: 'failure-rate',
      maxFailures: 3,
      intervalMs: 300_000,
      delayMs: 10_000,
    });
    expect(createRestartStrategy(parseRestartStrategy('fixed-delay:attempts=1,delay=0')).nextDelay(0)).toBe(0);
  });

  it.each([
    ['sometimes', /unknown strategy 'sometimes'/],
    ['fixed-delay:attempts=two', /attempts must be ≥ 0, got 'two'/],
    ['fixed-delay:tries=2', /unknown parameter\(s\) tries for fixed-delay/],
    ['exponential-delay:initial=1m,max=1s', /max must be ≥ initial/],
    ['failure-rate:max', /'max' is not key=value/],
  ])('rejects %s with a sentence naming the problem', (text, message) => {
    expect(() => parseRestartStrategy(text)).toThrow(ConfigurationError);
    expect(() => parseRestartStrategy(text)).toThrow(message);
  });
});
