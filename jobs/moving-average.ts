import { defineJob, durationArg, OutputTag, pathArg, positiveDurationArg, SlidingEventTimeWindows, WatermarkStrategy, z } from 'eddy';
import type { AggregateFunction, Collector, ProcessWindowContext, ProcessWindowFunction, TimeWindow } from 'eddy';
import { fileSink, fileSource, jsonLines } from 'eddy/connectors/file';

/**
 * A moving average: per sensor, the average over the last hour, every 10 minutes (sliding event-time
 * windows aligned to the epoch). Late readings within the allowed lateness update their windows and
 * fire them again with `late: true` (the final result of a window is its firing with the largest
 * count); a reading none of whose windows still accepts it goes to --late-output unchanged.
 */
const Reading = z.object({ sensor: z.union([z.string(), z.number()]), ts: z.number().int(), value: z.number() }).loose();
type Reading = z.infer<typeof Reading>;

export interface Average {
  readonly sensor: string | number;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly count: number;
  readonly avg: number;
  readonly late: boolean;
}

interface SumCount {
  readonly count: number;
  readonly sum: number;
}

const LATE = new OutputTag<Reading>('late-readings');

export const job = defineJob({
  name: 'moving-average',
  description: 'Per-sensor average over the last hour, every 10 minutes, with late updates.',
  args: z.object({
    input: pathArg().describe('JSON lines {sensor, ts, value}'),
    output: pathArg().describe('file for the averages {sensor, windowStart, windowEnd, count, avg, late}'),
    lateOutput: pathArg().optional().describe('file for readings too late for all their windows (as read)'),
    size: positiveDurationArg('1h').describe('window size'),
    slide: positiveDurationArg('10m').describe('how often a window starts'),
    outOfOrderness: durationArg('5m').describe('how far out of order the input may be'),
    allowedLateness: durationArg('10m').describe('how long after a window ends late readings still update it'),
  }),
  build(env, args) {
    const readings = env.fromSource(
      fileSource({ path: args.input, format: jsonLines({ schema: Reading }) }),
      WatermarkStrategy.forBoundedOutOfOrderness<Reading>(args.outOfOrderness).withTimestampAssigner((reading) => reading.ts),
      { uid: 'readings' },
    );
    const averages = readings
      .keyBy((reading) => reading.sensor)
      .window(SlidingEventTimeWindows.of(args.size, args.slide))
      .allowedLateness(args.allowedLateness)
      .sideOutputLateData(LATE)
      .aggregate(new SumAndCount(), new ToAverage())
      .uid('moving-average')
      .name('average per sensor');
    averages.sinkTo(fileSink<Average>({ path: args.output, format: 'json-lines' }), { uid: 'averages', parallelism: 1 });
    if (args.lateOutput !== undefined) {
      averages
        .getSideOutput(LATE)
        .sinkTo(fileSink<Reading>({ path: args.lateOutput, format: 'json-lines' }), { uid: 'late-readings', parallelism: 1 });
    }
  },
});

class SumAndCount implements AggregateFunction<Reading, SumCount, SumCount> {
  createAccumulator(): SumCount {
    return { count: 0, sum: 0 };
  }

  add(reading: Reading, accumulator: SumCount): SumCount {
    return { count: accumulator.count + 1, sum: accumulator.sum + reading.value };
  }

  getResult(accumulator: SumCount): SumCount {
    return accumulator;
  }

  merge(a: SumCount, b: SumCount): SumCount {
    return { count: a.count + b.count, sum: a.sum + b.sum };
  }
}

class ToAverage implements ProcessWindowFunction<SumCount, Average, string | number, TimeWindow> {
  process(
    sensor: string | number,
    context: ProcessWindowContext<TimeWindow>,
    results: readonly SumCount[],
    out: Collector<Average>,
  ): void {
    for (const { count, sum } of results) {
      out.collect({
        sensor,
        windowStart: context.window.start,
        windowEnd: context.window.end,
        count,
        avg: sum / count,
        late: context.firingKind === 'late',
      });
    }
  }
}
