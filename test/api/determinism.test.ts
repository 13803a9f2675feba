import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { CollectSink } from '../../connectors/collect/index.ts';
import { generatorSource, SeededRandom } from '../../connectors/generator/index.ts';
import { StreamEnvironment } from '../../src/api/stream-environment.ts';
import { executeJob } from '../../src/runtime/local-executor.ts';
import { WatermarkStrategy } from '../../src/time/watermark-strategy.ts';
import { SlidingEventTimeWindows } from '../../src/windows/sliding-event-time-windows.ts';
import type { TimeWindow } from '../../src/windows/time-window.ts';
import { TumblingEventTimeWindows } from '../../src/windows/tumbling-event-time-windows.ts';
import { multiset, uniqueCollectSink } from './api-test-support.ts';

/**
 * "Re-batching doesn't change the output": a keyed window job over a seeded generator with
 * out-of-order timestamps gives the same multiset of results at every batch size and parallelism.
 * (Snapshot ▶ restore at any point is covered per operator by the harness tests in test/operators.)
 *
 * Timestamps are out of order by less than the watermark bound, so no record is late on its own
 * split — the README's condition for output that does not depend on how splits interleave. Session
 * windows and rolling reduces are left out on purpose: their output legitimately depends on arrival
 * order (a record touching a session that fired may or may not arrive before the cleanup).
 */
interface Reading {
  readonly key: string;
  readonly ts: number;
  readonly value: number;
}

const RECORDS = 1_500;
const OUT_OF_ORDERNESS_MS = 400;
const SPACING_MS = 3;
const KEYS = 7;

function reading(index: number, random: SeededRandom): Reading {
  return {
    key: `k${random.nextInt(KEYS)}`,
    ts: index * SPACING_MS + random.nextInt(OUT_OF_ORDERNESS_MS),
    value: random.nextInt(100),
  };
}

interface WindowResult {
  readonly kind: string;
  readonly key: string;
  readonly start: number;
  readonly count: number;
  readonly sum: number;
}

const countAndSum = {
  createAccumulator: (): [number, number] => [0, 0],
  add: (r: Reading, [count, sum]: [number, number]): [number, number] => [count + 1, sum + r.value],
  getResult: (acc: [number, number]) => acc,
  merge: (a: [number, number], b: [number, number]): [number, number] => [a[0] + b[0], a[1] + b[1]],
};

function buildJob(seed: number, parallelism: number, sink: CollectSink<WindowResult>): StreamEnvironment {
  const env = new StreamEnvironment({ jobName: 'determinism', parallelism });
  const keyed = env
    .fromSource(
      generatorSource({ count: RECORDS, splits: 3, seed, generate: reading }),
      WatermarkStrategy.forBoundedOutOfOrderness<Reading>(OUT_OF_ORDERNESS_MS).withTimestampAssigner((r) => r.ts),
      { uid: 'readings' },
    )
    .keyBy((r) => r.key);
  const toResult = (kind: string) => ({
    process(key: string, context: { window: TimeWindow }, elements: readonly [number, number][], out: { collect(r: WindowResult): void }) {
      const [count, sum] = elements[0]!;
      out.collect({ kind, key, start: context.window.start, count, sum });
    },
  });
  const tumbling = keyed.window(TumblingEventTimeWindows.of(250)).aggregate(countAndSum, toResult('tumbling')).uid('tumbling');
  const sliding = keyed.window(SlidingEventTimeWindows.of(300, 100)).aggregate(countAndSum, toResult('sliding')).uid('sliding');
  tumbling.union(sliding).sinkTo(sink, { uid: 'results' });
  return env;
}

/** The same windows computed directly from the generated records. */
function reference(seed: number): string[] {
  const results = new Map<string, WindowResult>();
  const add = (kind: string, r: Reading, start: number): void => {
    const id = `${kind}/${r.key}/${start}`;
    const previous = results.get(id) ?? { kind, key: r.key, start, count: 0, sum: 0 };
    results.set(id, { ...previous, count: previous.count + 1, sum: previous.sum + r.value });
  };
  for (let index = 0; index < RECORDS; index++) {
    const r = reading(index, SeededRandom.forRecord(seed, index));
    add('tumbling', r, Math.floor(r.ts / 250) * 250);
    for (let start = Math.floor(r.ts / 100) * 100; start > r.ts - 300; start -= 100) add('sliding', r, start);
  }
  return multiset([...results.values()]);
}

const sinks: Array<CollectSink<WindowResult>> = [];
afterEach(() => {
  for (const sink of sinks.splice(0)) sink.close();
});

async function run(seed: number, parallelism: number, batchSize: number): Promise<string[]> {
  const sink = uniqueCollectSink<WindowResult>('determinism');
  sinks.push(sink);
  const result = await executeJob(buildJob(seed, parallelism, sink).getStreamGraph(), { workers: 0, batchSize });
  const late = result.operators.reduce((n, o) => n + o.metrics.lateRecordsDropped + o.metrics.lateRecordsSideOutput, 0);
  expect(late).toBe(0);
  return multiset(sink.results());
}

describe('determinism: re-batching and parallelism do not change a keyed window job', () => {
  it('property: for any seed, batch sizes 1, 7, 1000 × parallelism 1, 2, 3 give the reference multiset', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
        const expected = reference(seed);
        expect(expected.length).toBeGreaterThan(100);
        for (const batchSize of [1, 7, 1_000]) {
          for (const parallelism of [1, 2, 3]) {
            const actual = await run(seed, parallelism, batchSize);
            if (JSON.stringify(actual) !== JSON.stringify(expected)) {
              throw new Error(`seed ${seed}, batchSize ${batchSize}, parallelism ${parallelism}: output differs from the reference`);
            }
          }
        }
      }),
      { numRuns: 5 },
    );
  });
});
