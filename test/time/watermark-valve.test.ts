import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_WATERMARK, MIN_WATERMARK } from '../../src/core/time.ts';
import { WatermarkValve } from '../../src/time/watermark-valve.ts';

type Emitted = { kind: 'watermark'; ms: number } | { kind: 'status'; isIdle: boolean };

function valveWith(channels: number) {
  const emitted: Emitted[] = [];
  const valve = new WatermarkValve(channels, {
    emitWatermark: (ms) => emitted.push({ kind: 'watermark', ms }),
    emitWatermarkStatus: (isIdle) => emitted.push({ kind: 'status', isIdle }),
  });
  const take = (): Emitted[] => emitted.splice(0, emitted.length);
  return { valve, take };
}

const wm = (ms: number): Emitted => ({ kind: 'watermark', ms });
const idle: Emitted = { kind: 'status', isIdle: true };
const active: Emitted = { kind: 'status', isIdle: false };

describe('WatermarkValve', () => {
  it('forwards increasing watermarks of a single channel and drops the rest', () => {
    const { valve, take } = valveWith(1);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(0, 5);
    valve.inputWatermark(0, 12);
    expect(take()).toEqual([wm(10), wm(12)]);
    expect(valve.outputWatermark).toBe(12);
  });

  it('emits the minimum over channels, only when it increases', () => {
    const { valve, take } = valveWith(3);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(1, 20);
    expect(take()).toEqual([]);
    valve.inputWatermark(2, 15);
    expect(take()).toEqual([wm(10)]);
    valve.inputWatermark(0, 30);
    expect(take()).toEqual([wm(15)]);
    valve.inputWatermark(1, 25); // min is still channel 2 at 15
    expect(take()).toEqual([]);
    valve.inputWatermark(2, 40);
    expect(take()).toEqual([wm(25)]);
  });

  it('excludes idle channels, and a channel going idle can release the watermark', () => {
    const { valve, take } = valveWith(2);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(1, 30);
    expect(take()).toEqual([wm(10)]);
    valve.inputWatermarkStatus(0, true);
    expect(take()).toEqual([wm(30)]);
    valve.inputWatermark(0, 50); // ignored: channel 0 is idle
    valve.inputWatermark(1, 40);
    expect(take()).toEqual([wm(40)]);
    expect(valve.isIdle).toBe(false);
  });

  it('does not let a channel that returns below the output pull it down, until it catches up', () => {
    const { valve, take } = valveWith(2);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(1, 10);
    valve.inputWatermarkStatus(0, true);
    valve.inputWatermark(1, 100);
    expect(take()).toEqual([wm(10), wm(100)]);
    valve.inputWatermarkStatus(0, false); // back at 10 < 100: not aligned
    valve.inputWatermark(1, 150);
    expect(take()).toEqual([wm(150)]);
    valve.inputWatermark(0, 120); // still behind
    expect(take()).toEqual([]);
    valve.inputWatermark(0, 160); // caught up: aligned again and now the minimum
    valve.inputWatermark(1, 200);
    expect(take()).toEqual([wm(160)]);
  });

  it('goes idle when all channels are idle, flushing the max watermark, and active when one returns', () => {
    const { valve, take } = valveWith(3);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(1, 20);
    valve.inputWatermark(2, 30);
    expect(take()).toEqual([wm(10)]);
    valve.inputWatermarkStatus(1, true);
    valve.inputWatermarkStatus(2, true);
    expect(take()).toEqual([]);
    valve.inputWatermarkStatus(0, true); // channel 0 held the output: flush max = 30
    expect(take()).toEqual([wm(30), idle]);
    expect(valve.isIdle).toBe(true);
    valve.inputWatermarkStatus(0, true);
    expect(take()).toEqual([]);
    valve.inputWatermarkStatus(1, false);
    expect(take()).toEqual([active]);
    expect(valve.isIdle).toBe(false);
    valve.inputWatermark(1, 25); // below the output: does not move it, and channel 1 is not aligned
    expect(take()).toEqual([]);
    valve.inputWatermark(1, 35);
    expect(take()).toEqual([wm(35)]);
  });

  it('treats an ended channel as active at MAX_WATERMARK for good', () => {
    const { valve, take } = valveWith(2);
    valve.inputWatermark(0, 10);
    valve.inputWatermark(1, 20);
    valve.endOfInput(0);
    expect(take()).toEqual([wm(10), wm(20)]);
    valve.inputWatermarkStatus(0, true); // ignored: ended
    valve.inputWatermarkStatus(1, true);
    expect(take()).toEqual([wm(MAX_WATERMARK)]);
    expect(valve.isIdle).toBe(false);
  });

  it('ends an idle channel: active again, at MAX_WATERMARK', () => {
    const { valve, take } = valveWith(2);
    valve.inputWatermarkStatus(0, true);
    valve.inputWatermarkStatus(1, true);
    expect(take()).toEqual([idle]);
    valve.endOfInput(0);
    valve.endOfInput(1);
    expect(take()).toEqual([active, wm(MAX_WATERMARK)]);
  });

  it('rejects unknown channels', () => {
    const { valve } = valveWith(2);
    expect(() => valve.inputWatermark(2, 1)).toThrow(/channels 0\.\.1/);
    expect(() => new WatermarkValve(0, { emitWatermark: () => {}, emitWatermarkStatus: () => {} })).toThrow();
  });

  it('laws: the output never decreases, is the min over active channels once they are aligned, and is idle iff all channels are', () => {
    const op = (channels: number) =>
      fc.oneof(
        { weight: 5, arbitrary: fc.record({ kind: fc.constant('wm' as const), channel: fc.nat(channels - 1), delta: fc.integer({ min: -5, max: 20 }) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('status' as const), channel: fc.nat(channels - 1), isIdle: fc.boolean() }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('end' as const), channel: fc.nat(channels - 1) }) },
      );
    const scenario = fc.integer({ min: 1, max: 5 }).chain((channels) =>
      fc.tuple(fc.constant(channels), fc.array(op(channels), { maxLength: 60 })),
    );
    fc.assert(
      fc.property(scenario, ([channels, ops]) => {
        const { valve, take } = valveWith(channels);
        // The model tracks what the valve is told, not how it combines it.
        const watermarks = new Array<number>(channels).fill(MIN_WATERMARK);
        const isIdle = new Array<boolean>(channels).fill(false);
        const hasEnded = new Array<boolean>(channels).fill(false);
        let lastOutput = MIN_WATERMARK;
        let lastStatusIdle = false;
        for (const step of ops) {
          const c = step.channel;
          if (step.kind === 'wm') {
            const next = (watermarks[c] === MIN_WATERMARK ? 0 : watermarks[c]!) + step.delta;
            valve.inputWatermark(c, next);
            if (!isIdle[c] && next > watermarks[c]!) watermarks[c] = next;
          } else if (step.kind === 'status') {
            valve.inputWatermarkStatus(c, step.isIdle);
            if (!hasEnded[c]) isIdle[c] = step.isIdle;
          } else {
            valve.endOfInput(c);
            hasEnded[c] = true;
            isIdle[c] = false;
            watermarks[c] = MAX_WATERMARK;
          }
          for (const event of take()) {
            if (event.kind === 'watermark') {
              expect(event.ms).toBeGreaterThan(lastOutput);
              lastOutput = event.ms;
            } else {
              expect(event.isIdle).not.toBe(lastStatusIdle);
              lastStatusIdle = event.isIdle;
            }
          }
          expect(valve.outputWatermark).toBe(lastOutput);
          const allIdle = isIdle.every(Boolean);
          expect(valve.isIdle).toBe(allIdle);
          expect(lastStatusIdle).toBe(allIdle);
          const activeWatermarks = watermarks.filter((_, i) => !isIdle[i]);
          if (activeWatermarks.length > 0 && activeWatermarks.every((w) => w >= lastOutput)) {
            expect(lastOutput).toBe(Math.min(...activeWatermarks));
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
