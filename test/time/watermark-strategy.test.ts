import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { ManualClock, MIN_WATERMARK } from '../../src/core/time.ts';
import { WatermarkStrategy, type WatermarkOutput } from '../../src/time/watermark-strategy.ts';

function recordingOutput() {
  const events: Array<number | 'idle' | 'active'> = [];
  const output: WatermarkOutput = {
    emitWatermark: (ms) => events.push(ms),
    markIdle: () => events.push('idle'),
    markActive: () => events.push('active'),
  };
  return { events, output };
}

describe('WatermarkStrategy', () => {
  it('bounded out-of-orderness emits max timestamp − d − 1, MIN_WATERMARK before any event', () => {
    const generator = WatermarkStrategy.forBoundedOutOfOrderness<string>(100).createWatermarkGenerator({ clock: new ManualClock() });
    const { events, output } = recordingOutput();
    generator.onPeriodicEmit(output);
    generator.onEvent('a', 1_000, output);
    generator.onEvent('b', 700, output); // out of order: does not lower the max
    generator.onPeriodicEmit(output);
    generator.onEvent('c', 1_500, output);
    generator.onPeriodicEmit(output);
    expect(events).toEqual([MIN_WATERMARK, 899, 1_399]);
  });

  it('law: the watermark is max − d − 1 over any timestamps, negative ones included', () => {
    fc.assert(
      fc.property(
        fc.nat(10_000),
        fc.array(fc.integer({ min: -1e12, max: 1e12 }), { minLength: 1, maxLength: 50 }),
        (d, timestamps) => {
          const generator = WatermarkStrategy.forBoundedOutOfOrderness<null>(d).createWatermarkGenerator({ clock: new ManualClock() });
          const { events, output } = recordingOutput();
          for (const ts of timestamps) generator.onEvent(null, ts, output);
          generator.onPeriodicEmit(output);
          expect(events).toEqual([Math.max(...timestamps) - d - 1]);
        },
      ),
    );
  });

  it('monotonous timestamps emit max − 1', () => {
    const generator = WatermarkStrategy.forMonotonousTimestamps<null>().createWatermarkGenerator({ clock: new ManualClock() });
    const { events, output } = recordingOutput();
    generator.onEvent(null, 10, output);
    generator.onPeriodicEmit(output);
    expect(events).toEqual([9]);
  });

  it('goes idle after the idle timeout without events, and active on the next event', () => {
    const clock = new ManualClock(0);
    const generator = WatermarkStrategy.forBoundedOutOfOrderness<null>(0).withIdleness(1_000).createWatermarkGenerator({ clock });
    const { events, output } = recordingOutput();
    generator.onEvent(null, 50, output);
    clock.advance(999);
    generator.onPeriodicEmit(output);
    clock.advance(1);
    generator.onPeriodicEmit(output);
    generator.onPeriodicEmit(output); // already idle: nothing more
    clock.advance(5_000);
    generator.onEvent(null, 60, output);
    generator.onPeriodicEmit(output);
    expect(events).toEqual([49, 'idle', 'active', 59]);
  });

  it('uses the timestamp assigner, and rejects bad configuration with a sentence', () => {
    const strategy = WatermarkStrategy.forMonotonousTimestamps<{ at: number }>().withTimestampAssigner((e) => e.at);
    expect(strategy.timestampAssigner({ at: 42 }, Number.NaN)).toBe(42);
    expect(WatermarkStrategy.noWatermarks<number>().timestampAssigner(1, 5)).toBeNaN();
    expect(() => WatermarkStrategy.forBoundedOutOfOrderness(-1)).toThrow(ConfigurationError);
    expect(() => WatermarkStrategy.forBoundedOutOfOrderness(1.5)).toThrow(/whole number/);
    expect(() => WatermarkStrategy.forMonotonousTimestamps().withIdleness(0)).toThrow(/idle timeout/);
    expect(WatermarkStrategy.forBoundedOutOfOrderness(5_000).withIdleness(60_000).description).toBe(
      'bounded out-of-orderness 5s, idle after 1m',
    );
  });
});
