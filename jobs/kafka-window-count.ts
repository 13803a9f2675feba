import { defineJob, durationArg, positiveDurationArg, TumblingEventTimeWindows, WatermarkStrategy, z } from 'eddy';
import { json, kafkaSink, kafkaSource } from 'eddy/connectors/kafka';

/**
 * Kafka ▶ keyed tumbling windows ▶ Kafka, exactly once: reads JSON events `{ "key": "…", "ts": <epoch
 * ms>, "n": <number> }` from the input topic and writes, per key and window, `{ key, start, end,
 * count, sum }` to the output topic in Kafka transactions committed with each checkpoint — a
 * `read_committed` consumer of the output sees every window once, even across crashes and restarts
 * (run with `--checkpoint-dir` and, after a crash, `--from-checkpoint <that dir>`).
 */
const Event = z.object({ key: z.string(), ts: z.number().int().nonnegative(), n: z.number() });
type Event = z.infer<typeof Event>;

/** One window's result. */
export interface WindowCount {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly sum: number;
}

export const job = defineJob({
  name: 'kafka-window-count',
  description: 'Counts and sums JSON events per key in tumbling event-time windows, Kafka to Kafka, exactly once.',
  args: z.object({
    brokers: z.string().default('localhost:9092').describe('bootstrap servers, host:port[,host:port…]'),
    input: z.string().default('events').describe('topic of JSON events {"key","ts","n"}'),
    output: z.string().default('window-counts').describe('topic the window results go to'),
    window: positiveDurationArg('10s').describe('window length'),
    outOfOrderness: durationArg('1s').describe('how far out of order events may arrive'),
    idleness: positiveDurationArg('30s').describe('a partition without events for this long no longer holds windows back'),
    transactionalIdPrefix: z.string().default('kafka-window-count').describe('stable, unique per job'),
    bounded: z.union([z.boolean(), z.enum(['true', 'false'])]).default(false).transform((value) => value === true || value === 'true')
      .describe('stop at the end offsets seen at start (for batch runs)'),
  }),
  build(env, args) {
    env
      .fromSource(
        kafkaSource({
          brokers: args.brokers,
          topics: args.input,
          value: json({ schema: Event }),
          groupId: `${args.transactionalIdPrefix}-source`,
          ...(args.bounded ? { stoppingOffsets: 'latest' as const } : {}),
        }),
        WatermarkStrategy.forBoundedOutOfOrderness<Event>(args.outOfOrderness)
          .withTimestampAssigner((event) => event.ts)
          .withIdleness(args.idleness),
        { uid: 'events' },
      )
      .keyBy((event) => event.key)
      .window(TumblingEventTimeWindows.of(args.window))
      .aggregate(
        {
          createAccumulator: () => ({ count: 0, sum: 0 }),
          add: (event: Event, acc: { count: number; sum: number }) => ({ count: acc.count + 1, sum: acc.sum + event.n }),
          getResult: (acc: { count: number; sum: number }) => acc,
          merge: (a: { count: number; sum: number }, b: { count: number; sum: number }) => ({ count: a.count + b.count, sum: a.sum + b.sum }),
        },
        {
          process(key: string, context, results, out) {
            for (const { count, sum } of results) out.collect({ key, start: context.window.start, end: context.window.end, count, sum });
          },
        },
      )
      .uid('window-counts')
      .name('count per key and window')
      .sinkTo(
        kafkaSink<WindowCount>({
          brokers: args.brokers,
          topic: args.output,
          key: (result) => result.key,
          transactionalIdPrefix: args.transactionalIdPrefix,
        }),
        { uid: 'out' },
      );
  },
});
