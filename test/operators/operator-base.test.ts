import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MIN_WATERMARK } from '../../src/core/time.ts';
import { OperatorBase } from '../../src/operators/operator-base.ts';
import { OperatorTestHarness } from '../harness/operator-test-harness.ts';

/** The smallest operator: forwards records; everything else is OperatorBase's default. */
class PassThrough extends OperatorBase<unknown> {
  constructor(numInputs: number) {
    super(numInputs, false);
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.output.collect(value, timestampMs);
  }
}

type Action =
  | { readonly kind: 'watermark'; readonly input: number; readonly timestamp: number }
  | { readonly kind: 'status'; readonly input: number; readonly isIdle: boolean };

const actions = (numInputs: number): fc.Arbitrary<Action[]> =>
  fc.array(
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('watermark' as const), input: fc.integer({ min: 0, max: numInputs - 1 }), timestamp: fc.integer({ min: -50, max: 200 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('status' as const), input: fc.integer({ min: 0, max: numInputs - 1 }), isIdle: fc.boolean() }) },
    ),
    { maxLength: 60 },
  );

describe('OperatorBase: combining input watermarks', () => {
  it('property: the forwarded watermark never decreases and, whenever it moves, equals the min over non-idle inputs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(fc.constant(n), actions(n))), ([numInputs, script]) => {
        const h = new OperatorTestHarness(() => new PassThrough(numInputs)).open();
        // Model: each input's highest watermark so far (a lower one is ignored) and its idleness.
        const inputWatermark = new Array<number>(numInputs).fill(MIN_WATERMARK);
        const isIdle = new Array<boolean>(numInputs).fill(false);
        let expected = MIN_WATERMARK;
        let expectedIdle = false;
        for (const action of script) {
          const before = h.watermarks().length;
          if (action.kind === 'watermark') {
            h.processWatermark(action.timestamp, action.input);
            inputWatermark[action.input] = Math.max(inputWatermark[action.input]!, action.timestamp);
          } else {
            h.processWatermarkStatus(action.isIdle, action.input);
            isIdle[action.input] = action.isIdle;
          }
          const active = inputWatermark.filter((_, i) => !isIdle[i]);
          // A single-input operator forwards its input's watermark whatever its status.
          const combined = numInputs === 1 ? inputWatermark[0]! : active.length === 0 ? MIN_WATERMARK : Math.min(...active);
          const forwarded = h.watermarks().slice(before);
          if (combined > expected) {
            expect(forwarded).toEqual([combined]);
            expected = combined;
          } else {
            expect(forwarded).toEqual([]);
          }
          const allIdle = isIdle.every(Boolean);
          const statuses = h.emitted.filter((e) => e.kind === 'status');
          if (allIdle !== expectedIdle) {
            expect(statuses.at(-1)).toEqual({ kind: 'status', isIdle: allIdle });
            expectedIdle = allIdle;
          }
        }
        const all = h.watermarks();
        for (let i = 1; i < all.length; i++) expect(all[i]!).toBeGreaterThan(all[i - 1]!);
        // Status changes alternate: never two equal statuses in a row.
        const statuses = h.emitted.filter((e) => e.kind === 'status').map((e) => (e as { isIdle: boolean }).isIdle);
        for (let i = 1; i < statuses.length; i++) expect(statuses[i]).not.toBe(statuses[i - 1]);
      }),
      { numRuns: 300 },
    );
  });

  it('two inputs: the watermark waits for the slower one, an idle one is skipped, and never goes back', () => {
    const h = new OperatorTestHarness(() => new PassThrough(2)).open();
    h.processWatermark(10, 0).processWatermark(3, 1).processWatermark(8, 1);
    expect(h.watermarks()).toEqual([3, 8]);
    h.processWatermarkStatus(true, 1);
    expect(h.watermarks()).toEqual([3, 8, 10]);
    // Input 1 becomes active again behind the output: the output stays at 10 until it catches up.
    h.processWatermarkStatus(false, 1);
    h.processWatermark(20, 0);
    expect(h.watermarks()).toEqual([3, 8, 10]);
    h.processWatermark(15, 1);
    expect(h.watermarks()).toEqual([3, 8, 10, 15]);
  });
});
