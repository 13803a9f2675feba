import { fileSink } from '../../connectors/file/index.ts';
import { generatorSource } from '../../connectors/generator/index.ts';
import type { Collector } from '../../src/core/collector.ts';
import { defineJob, z } from '../../src/index.ts';
import type { ProcessWindowContext, ProcessWindowFunction, TimeWindow } from '../../src/index.ts';
import { TumblingEventTimeWindows, WatermarkStrategy } from '../../src/index.ts';
import { DiscardingSink, TUMBLING_KEYS, TUMBLING_RECORDS_PER_MS, keyIndex, tumblingKeys, type Reading } from './bench-jobs.ts';

/**
 * Scenario (b), the keyed tumbling count, with a sink that can be checked: each window's count goes
 * out as `{"key","end","count"}` to the file sink (exactly-once part files when the job checkpoints),
 * or to the discarding sink without `--output`. Exported as `job` so that `eddy run` can start it
 * (the checkpoint recovery benchmark kills and restarts it); options arrive as strings from the CLI,
 * hence `z.coerce`. The output depends on `count` alone: never on `rate`, parallelism or restarts.
 */

interface WindowCount {
  readonly key: string;
  readonly end: number;
  readonly count: number;
}

class ToWindowCount implements ProcessWindowFunction<number, WindowCount, string, TimeWindow> {
  process(key: string, context: ProcessWindowContext<TimeWindow>, counts: readonly number[], out: Collector<WindowCount>): void {
    for (const count of counts) out.collect({ key, end: context.window.end, count });
  }
}

export const job = defineJob({
  name: 'bench-tumbling-count-checked',
  args: z.object({
    count: z.coerce.number().int().nonnegative(),
    splits: z.coerce.number().int().positive().default(4),
    /** Total records per second (the generator's token bucket); absent: as fast as possible. */
    rate: z.coerce.number().positive().optional(),
    /** The file sink's directory (part files); absent: the discarding sink. */
    output: z.string().optional(),
  }),
  build(env, { count, splits, rate, output }) {
    const counts = env
      .fromSource(
        generatorSource<Reading>({
          count,
          splits,
          ...(rate === undefined ? {} : { ratePerSecond: rate }),
          generate: (index) => ({
            key: tumblingKeys[keyIndex(index, TUMBLING_KEYS)]!,
            ts: Math.floor(index / TUMBLING_RECORDS_PER_MS),
            value: index & 1023,
          }),
        }),
        WatermarkStrategy.forMonotonousTimestamps<Reading>().withTimestampAssigner((reading) => reading.ts),
        { uid: 'readings' },
      )
      .keyBy((reading) => reading.key)
      .window(TumblingEventTimeWindows.of('1s'))
      .aggregate(
        {
          createAccumulator: () => 0,
          add: (_reading: Reading, n: number) => n + 1,
          getResult: (n: number) => n,
          merge: (a: number, b: number) => a + b,
        },
        new ToWindowCount(),
      )
      .uid('count-per-second');
    if (output === undefined) counts.sinkTo(new DiscardingSink(), { uid: 'discard' });
    else counts.sinkTo(fileSink<WindowCount>({ path: output, format: 'json-lines' }), { uid: 'counts-file' });
  },
});
