import fc from 'fast-check';
import { MIN_WATERMARK } from '../../src/core/time.ts';
import type { StreamOperator } from '../../src/operators/operator.ts';
import { OperatorTestHarness, type HarnessElement, type HarnessOptions } from '../harness/operator-test-harness.ts';

/**
 * Scripts of operator input, replayed through the harness with or without a snapshot ▶ restore at a
 * chosen step, so a test can check "a restore at any cut point gives the same output".
 */
export type Step =
  | { readonly kind: 'record'; readonly value: unknown; readonly timestamp: number; readonly input?: number }
  | { readonly kind: 'watermark'; readonly timestamp: number; readonly input?: number }
  | { readonly kind: 'idle'; readonly isIdle: boolean; readonly input?: number }
  | { readonly kind: 'time'; readonly timeMs: number };

function apply(harness: OperatorTestHarness, step: Step): void {
  switch (step.kind) {
    case 'record':
      harness.processElement(step.value, step.timestamp, step.input ?? 0);
      return;
    case 'watermark':
      harness.processWatermark(step.timestamp, step.input ?? 0);
      return;
    case 'idle':
      harness.processWatermarkStatus(step.isIdle, step.input ?? 0);
      return;
    case 'time':
      harness.setProcessingTime(step.timeMs);
      return;
  }
}

/**
 * Runs `steps` through a fresh operator; with `cutAt`, snapshots and restores into a fresh operator
 * just before step `cutAt`. The operator's watermark is not part of its snapshot (as in Flink: after a
 * restore, upstream re-establishes it), so the replay re-sends each input's last watermark right after
 * the restore — what the upstream valve would forward before the records that follow.
 * Returns everything emitted, both harnesses' output concatenated.
 */
export function replay(
  createOperator: () => StreamOperator<unknown>,
  steps: readonly Step[],
  cutAt: number | undefined,
  options: HarnessOptions & { readonly numInputs?: number } = {},
): HarnessElement[] {
  const numInputs = options.numInputs ?? 1;
  const lastWatermark = new Array<number>(numInputs).fill(MIN_WATERMARK);
  let harness = new OperatorTestHarness<unknown>(createOperator, options).open();
  const emitted: HarnessElement[] = [];
  steps.forEach((step, index) => {
    if (index === cutAt) {
      emitted.push(...harness.emitted);
      harness = harness.snapshotAndRestore(index + 1);
      for (let input = 0; input < numInputs; input++) {
        if (lastWatermark[input]! !== MIN_WATERMARK) harness.processWatermark(lastWatermark[input]!, input);
      }
    }
    if (step.kind === 'watermark') {
      const input = step.input ?? 0;
      lastWatermark[input] = Math.max(lastWatermark[input]!, step.timestamp);
    }
    apply(harness, step);
  });
  emitted.push(...harness.emitted);
  harness.close();
  return emitted;
}

/** Records and side outputs in emission order; watermarks reduced to their running maximum (restores re-send them). */
export function normalize(elements: readonly HarnessElement[]): { readonly data: HarnessElement[]; readonly watermarks: number[] } {
  const data: HarnessElement[] = [];
  const watermarks: number[] = [];
  for (const element of elements) {
    if (element.kind === 'record' || element.kind === 'side') data.push(element);
    else if (element.kind === 'watermark' && (watermarks.length === 0 || element.timestamp > watermarks.at(-1)!)) {
      watermarks.push(element.timestamp);
    }
  }
  return { data, watermarks };
}

/**
 * The property: for every cut point, the output equals the uninterrupted run's. `steps` is an
 * arbitrary of scripts; the cut is drawn over [0, steps.length].
 */
export function assertRestoreAnywhereGivesSameOutput(
  createOperator: () => StreamOperator<unknown>,
  steps: fc.Arbitrary<readonly Step[]>,
  options: HarnessOptions & { readonly numInputs?: number } = {},
  numRuns = 60,
): void {
  const scripts = steps.chain((script) => fc.tuple(fc.constant(script), fc.integer({ min: 0, max: script.length })));
  fc.assert(
    fc.property(scripts, ([script, cutAt]) => {
      const expected = normalize(replay(createOperator, script, undefined, options));
      const actual = normalize(replay(createOperator, script, cutAt, options));
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        throw new Error(
          `restore before step ${cutAt} changed the output\nexpected ${JSON.stringify(expected)}\nactual   ${JSON.stringify(actual)}`,
        );
      }
    }),
    { numRuns },
  );
}

/**
 * Random scripts over `keys` with out-of-order timestamps in [0, maxTs), watermarks that never
 * decrease per input (as a valve guarantees), and processing-time steps that never go back.
 */
export function scriptArbitrary(options: {
  readonly keys: readonly string[];
  readonly maxTs: number;
  readonly numInputs?: number;
  readonly withProcessingTime?: boolean;
  readonly maxLength?: number;
}): fc.Arbitrary<readonly Step[]> {
  const numInputs = options.numInputs ?? 1;
  const raw = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('record' as const), key: fc.constantFrom(...options.keys), timestamp: fc.integer({ min: 0, max: options.maxTs - 1 }), input: fc.integer({ min: 0, max: numInputs - 1 }), n: fc.integer({ min: 1, max: 9 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('watermark' as const), delta: fc.integer({ min: 0, max: Math.ceil(options.maxTs / 5) }), input: fc.integer({ min: 0, max: numInputs - 1 }) }) },
    ...(options.withProcessingTime === true
      ? [{ weight: 1, arbitrary: fc.record({ kind: fc.constant('time' as const), delta: fc.integer({ min: 0, max: Math.ceil(options.maxTs / 5) }) }) }]
      : []),
  );
  return fc.array(raw, { maxLength: options.maxLength ?? 40 }).map((draws) => {
    const watermarks = new Array<number>(numInputs).fill(-1);
    let timeMs = 0;
    const steps: Step[] = [];
    for (const draw of draws) {
      if (draw.kind === 'record') {
        steps.push({ kind: 'record', value: { key: draw.key, n: draw.n }, timestamp: draw.timestamp, input: draw.input });
      } else if (draw.kind === 'watermark') {
        watermarks[draw.input] = watermarks[draw.input]! + draw.delta;
        steps.push({ kind: 'watermark', timestamp: watermarks[draw.input]!, input: draw.input });
      } else {
        timeMs += draw.delta;
        steps.push({ kind: 'time', timeMs });
      }
    }
    return steps;
  });
}
