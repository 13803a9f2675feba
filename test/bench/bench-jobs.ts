import { generatorSource } from '../../connectors/generator/index.ts';
import type { Sink, SinkWriter } from '../../src/connector/sink.ts';
import { defineJob, z } from '../../src/index.ts';
import type { ProcessWindowContext, ProcessWindowFunction, TimeWindow } from '../../src/index.ts';
import {
  EventTimeSessionWindows,
  SlidingEventTimeWindows,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from '../../src/index.ts';
import type { Collector } from '../../src/core/collector.ts';

/**
 * The benchmark jobs: generator source ▶ the operators under test ▶ a discarding sink. One module so
 * that worker threads (which import the job to build the same graph) and the in-process runs use the
 * same graphs. Records are generated from their index alone, so every run sees the same data.
 */

/** Accepts everything, keeps nothing; the sink operator's own `recordsIn` metric does the counting. */
export class DiscardingSink<T> implements Sink<T> {
  createWriter(): SinkWriter<T> {
    return {
      open: async () => {},
      write: () => {},
      waitUntilWritable: () => undefined,
      flush: async () => {},
      snapshotState: () => [],
      close: async () => {},
    };
  }

  describe(): string {
    return 'discard';
  }
}

const BenchArgs = z.object({
  count: z.number().int().nonnegative(),
  /** Generator splits; 4 by default so that parallelism 1, 2 and 4 all get whole splits. */
  splits: z.number().int().positive().default(4),
});

export interface Reading {
  readonly key: string;
  readonly ts: number;
  readonly value: number;
}

/** `prefix0` … `prefix(n−1)`, built once per module load: records carry existing strings, as a parser's would. */
function keyNames(prefix: string, n: number): readonly string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

/** Scatters consecutive indices over `n` keys (7919 is prime, coprime with every n used here). */
export function keyIndex(index: number, n: number): number {
  return (index * 7919) % n;
}

const eventTime = WatermarkStrategy.forMonotonousTimestamps<Reading>().withTimestampAssigner((reading) => reading.ts);

/** (a) Stateless: map ▶ filter (keeps 3 of 4 records), no keys, no watermarks. */
export const mapFilter = defineJob({
  name: 'bench-map-filter',
  args: BenchArgs,
  build(env, { count, splits }) {
    env
      .fromSource(
        generatorSource({ count, splits, generate: (index) => ({ id: index, value: index * 0.5 }) }),
        WatermarkStrategy.noWatermarks<{ id: number; value: number }>(),
        { uid: 'numbers' },
      )
      .map((record) => ({ id: record.id, value: record.value * 2 + 1 }))
      .uid('map')
      .filter((record) => record.id % 4 !== 3)
      .uid('filter')
      .sinkTo(new DiscardingSink(), { uid: 'discard' });
  },
});

export const TUMBLING_KEYS = 10_000;
/** Event time advances 1 ms per 1,000 records: 1 s windows of 1M records, 100 per key. */
export const TUMBLING_RECORDS_PER_MS = 1_000;
export const tumblingKeys = keyNames('user-', TUMBLING_KEYS);

/** (b) Keyed tumbling count: 10k string keys, 1 s event-time windows, an aggregate counting records. */
export const tumblingCount = defineJob({
  name: 'bench-tumbling-count',
  args: BenchArgs,
  build(env, { count, splits }) {
    env
      .fromSource(
        generatorSource<Reading>({
          count,
          splits,
          generate: (index) => ({
            key: tumblingKeys[keyIndex(index, TUMBLING_KEYS)]!,
            ts: Math.floor(index / TUMBLING_RECORDS_PER_MS),
            value: index & 1023,
          }),
        }),
        eventTime,
        { uid: 'readings' },
      )
      .keyBy((reading) => reading.key)
      .window(TumblingEventTimeWindows.of('1s'))
      .aggregate({
        createAccumulator: () => 0,
        add: (_reading: Reading, n: number) => n + 1,
        getResult: (n: number) => n,
        merge: (a: number, b: number) => a + b,
      })
      .uid('count-per-second')
      .sinkTo(new DiscardingSink(), { uid: 'discard' });
  },
});

interface SumCount {
  readonly sum: number;
  readonly count: number;
}

interface Average {
  readonly key: string;
  readonly windowEnd: number;
  readonly avg: number;
}

class ToAverage implements ProcessWindowFunction<SumCount, Average, string, TimeWindow> {
  process(key: string, context: ProcessWindowContext<TimeWindow>, results: readonly SumCount[], out: Collector<Average>): void {
    for (const { sum, count } of results) out.collect({ key, windowEnd: context.window.end, avg: sum / count });
  }
}

export const SLIDING_KEYS = 1_000;
/** Event time advances 10 ms per record: each sensor reads every ~10 s, 360 readings per sensor per hour. */
export const SLIDING_MS_PER_RECORD = 10;
const sensors = keyNames('sensor-', SLIDING_KEYS);

/** (c) Sliding average: 1,000 sensors, 1 h windows every 10 min (6 windows per record). */
export const slidingAverage = defineJob({
  name: 'bench-sliding-average',
  args: BenchArgs,
  build(env, { count, splits }) {
    env
      .fromSource(
        generatorSource<Reading>({
          count,
          splits,
          generate: (index) => ({
            key: sensors[keyIndex(index, SLIDING_KEYS)]!,
            ts: index * SLIDING_MS_PER_RECORD,
            value: index & 1023,
          }),
        }),
        eventTime,
        { uid: 'readings' },
      )
      .keyBy((reading) => reading.key)
      .window(SlidingEventTimeWindows.of('1h', '10m'))
      .aggregate(
        {
          createAccumulator: (): SumCount => ({ sum: 0, count: 0 }),
          add: (reading: Reading, acc: SumCount): SumCount => ({ sum: acc.sum + reading.value, count: acc.count + 1 }),
          getResult: (acc: SumCount) => acc,
          merge: (a: SumCount, b: SumCount): SumCount => ({ sum: a.sum + b.sum, count: a.count + b.count }),
        },
        new ToAverage(),
      )
      .uid('moving-average')
      .sinkTo(new DiscardingSink(), { uid: 'discard' });
  },
});

export const SESSION_KEYS = 10_000;
/** 1 ms of event time per record: a user is seen every ~10 s on average (random), sessions close after 5 s. */
export const SESSION_GAP = '5s';
const users = keyNames('user-', SESSION_KEYS);

/** (d) Session windows: 10k users picked at random, a 5 s gap, a count per session. */
export const sessionCount = defineJob({
  name: 'bench-session-count',
  args: BenchArgs,
  build(env, { count, splits }) {
    env
      .fromSource(
        generatorSource<Reading>({
          count,
          splits,
          generate: (index, random) => ({ key: users[random.nextInt(SESSION_KEYS)]!, ts: index, value: index & 1023 }),
        }),
        eventTime,
        { uid: 'clicks' },
      )
      .keyBy((click) => click.key)
      .window(EventTimeSessionWindows.withGap(SESSION_GAP))
      .aggregate({
        createAccumulator: () => 0,
        add: (_click: Reading, n: number) => n + 1,
        getResult: (n: number) => n,
        merge: (a: number, b: number) => a + b,
      })
      .uid('session-count')
      .sinkTo(new DiscardingSink(), { uid: 'discard' });
  },
});

/** A job that generates nothing: its run time on workers is the workers' startup and shutdown. */
export const empty = defineJob({
  name: 'bench-empty',
  args: BenchArgs,
  build(env, { count, splits }) {
    env
      .fromSource(generatorSource({ count, splits, generate: (index) => index }), WatermarkStrategy.noWatermarks<number>(), {
        uid: 'numbers',
      })
      .sinkTo(new DiscardingSink(), { uid: 'discard' });
  },
});
