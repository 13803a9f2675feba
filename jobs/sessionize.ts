import { defineJob, durationArg, EventTimeSessionWindows, OutputTag, pathArg, positiveDurationArg, WatermarkStrategy, z } from 'eddy';
import type { AggregateFunction, Collector, ProcessWindowContext, ProcessWindowFunction, TimeWindow } from 'eddy';
import { fileSink, fileSource, jsonLines } from 'eddy/connectors/file';

/**
 * Sessions: per user, activity separated by gaps shorter than --gap (30 minutes) forms one session
 * `{user, start, end, count}` with start = first timestamp and end = last timestamp + gap. As in Flink,
 * windows that touch merge: events exactly one gap apart share a session.
 */
const Activity = z.object({ user: z.union([z.string(), z.number()]), ts: z.number().int() }).loose();
type Activity = z.infer<typeof Activity>;

export interface Session {
  readonly user: string | number;
  readonly start: number;
  readonly end: number;
  readonly count: number;
}

const LATE = new OutputTag<Activity>('late-activity');

export const job = defineJob({
  name: 'sessionize',
  description: 'Groups each user\'s activity into sessions separated by a gap of inactivity.',
  args: z.object({
    input: pathArg().describe('JSON lines {user, ts}'),
    output: pathArg().describe('file for the sessions {user, start, end, count}'),
    gap: positiveDurationArg('30m').describe('inactivity that ends a session'),
    outOfOrderness: durationArg('5m').describe('how far out of order the input may be'),
    allowedLateness: durationArg('0ms').describe('how long after a session ends late events still update it'),
    lateOutput: pathArg().optional().describe('file for events too late for their session (as read)'),
  }),
  build(env, args) {
    const activity = env.fromSource(
      fileSource({ path: args.input, format: jsonLines({ schema: Activity }) }),
      WatermarkStrategy.forBoundedOutOfOrderness<Activity>(args.outOfOrderness).withTimestampAssigner((event) => event.ts),
      { uid: 'activity' },
    );
    const sessions = activity
      .keyBy((event) => event.user)
      .window(EventTimeSessionWindows.withGap(args.gap))
      .allowedLateness(args.allowedLateness)
      .sideOutputLateData(LATE)
      .aggregate(new CountEvents(), new ToSession())
      .uid('sessions')
      .name('sessions per user');
    sessions.sinkTo(fileSink<Session>({ path: args.output, format: 'json-lines' }), { uid: 'sessions-sink', parallelism: 1 });
    if (args.lateOutput !== undefined) {
      sessions
        .getSideOutput(LATE)
        .sinkTo(fileSink<Activity>({ path: args.lateOutput, format: 'json-lines' }), { uid: 'late-activity', parallelism: 1 });
    }
  },
});

class CountEvents implements AggregateFunction<Activity, number, number> {
  createAccumulator(): number {
    return 0;
  }

  add(_event: Activity, count: number): number {
    return count + 1;
  }

  getResult(count: number): number {
    return count;
  }

  merge(a: number, b: number): number {
    return a + b;
  }
}

class ToSession implements ProcessWindowFunction<number, Session, string | number, TimeWindow> {
  process(user: string | number, context: ProcessWindowContext<TimeWindow>, counts: readonly number[], out: Collector<Session>): void {
    for (const count of counts) out.collect({ user, start: context.window.start, end: context.window.end, count });
  }
}
