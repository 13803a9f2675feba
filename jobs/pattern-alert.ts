import {
  defineJob,
  durationArg,
  mapState,
  OutputTag,
  pathArg,
  positiveDurationArg,
  WatermarkStrategy,
  z,
} from 'eddy';
import type { Collector, KeyedProcessContext, KeyedProcessFunction, KeyedRuntimeContext, MapState } from 'eddy';
import { fileSink, fileSource, jsonLines } from 'eddy/connectors/file';

/**
 * "A then B within 10 minutes": for every event of type A, alert with the B of the same key that has
 * the smallest timestamp in (A.ts, A.ts + within], once the watermark reaches A.ts + within. One B
 * may answer many As; other types are ignored. Event time: input may be out of order by up to
 * --out-of-orderness; an event later than that (plus --allowed-lateness) goes to --late-output.
 */
const Event = z.object({ key: z.string(), type: z.string(), ts: z.number().int() }).loose();
type Event = z.infer<typeof Event>;

export interface Alert {
  readonly key: string;
  readonly aTs: number;
  readonly bTs: number;
}

const LATE = new OutputTag<Event>('late-events');

export const job = defineJob({
  name: 'pattern-alert',
  description: 'Alerts when an event of type A is followed by a B of the same key within a time span.',
  args: z.object({
    input: pathArg().describe('JSON lines {key, type, ts}'),
    output: pathArg().describe('file for the alerts {key, aTs, bTs}'),
    within: positiveDurationArg('10m').describe('how long after an A a B may come'),
    outOfOrderness: durationArg('5m').describe('how far out of order the input may be'),
    allowedLateness: durationArg('0ms').describe('how much later than the watermark an event is still used'),
    lateOutput: pathArg().optional().describe('file for events that came too late (as read)'),
  }),
  build(env, args) {
    const events = env.fromSource(
      fileSource({ path: args.input, format: jsonLines({ schema: Event }) }),
      WatermarkStrategy.forBoundedOutOfOrderness<Event>(args.outOfOrderness).withTimestampAssigner((event) => event.ts),
      { uid: 'events' },
    );
    const alerts = events
      .filter((event) => event.type === 'A' || event.type === 'B')
      .keyBy((event) => event.key)
      .process(new FollowedWithin(args.within, args.allowedLateness))
      .uid('a-then-b')
      .name('A then B');
    alerts.sinkTo(fileSink<Alert>({ path: args.output, format: 'json-lines' }), { uid: 'alerts', parallelism: 1 });
    if (args.lateOutput !== undefined) {
      alerts
        .getSideOutput(LATE)
        .sinkTo(fileSink<Event>({ path: args.lateOutput, format: 'json-lines' }), { uid: 'late-events', parallelism: 1 });
    }
  },
});

/**
 * State per key: the As waiting for their deadline (deadline ▶ A timestamps) and the Bs that may still
 * answer one (B timestamp ▶ count). A timer at each deadline emits the alerts due then and drops the
 * Bs that can no longer answer any A.
 */
class FollowedWithin implements KeyedProcessFunction<string, Event, Alert> {
  private pendingAs!: MapState<number, number[]>;
  private bs!: MapState<number, number>;

  constructor(
    private readonly withinMs: number,
    private readonly allowedLatenessMs: number,
  ) {}

  open(context: KeyedRuntimeContext): void {
    this.pendingAs = context.getMapState(mapState<number, number[]>('pending-as'));
    this.bs = context.getMapState(mapState<number, number>('bs'));
  }

  processElement(event: Event, context: KeyedProcessContext<string>): void {
    if (event.ts + this.allowedLatenessMs <= context.currentWatermark) {
      context.output(LATE, event);
      return;
    }
    if (event.type === 'A') {
      const deadline = event.ts + this.withinMs;
      const waiting = this.pendingAs.get(deadline) ?? [];
      waiting.push(event.ts);
      this.pendingAs.put(deadline, waiting);
      context.timerService.registerEventTimeTimer(deadline);
    } else {
      this.bs.put(event.ts, (this.bs.get(event.ts) ?? 0) + 1);
      // This B can answer As up to its own timestamp + within; drop it after that.
      context.timerService.registerEventTimeTimer(event.ts + this.withinMs + this.allowedLatenessMs);
    }
  }

  onTimer(timestampMs: number, context: KeyedProcessContext<string>, out: Collector<Alert>): void {
    const due = this.pendingAs.get(timestampMs);
    if (due !== undefined) {
      const bTimestamps = this.bs.keys().sort((a, b) => a - b);
      for (const aTs of due) {
        const bTs = bTimestamps.find((ts) => ts > aTs && ts <= aTs + this.withinMs);
        if (bTs !== undefined) out.collect({ key: context.currentKey, aTs, bTs });
      }
      this.pendingAs.remove(timestampMs);
    }
    for (const bTs of this.bs.keys()) {
      if (bTs + this.withinMs + this.allowedLatenessMs <= timestampMs) this.bs.remove(bTs);
    }
  }
}
