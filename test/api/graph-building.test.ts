import { describe, expect, it } from 'vitest';
import { broadcastState, type KeyedProcessFunction } from '../../src/api/functions.ts';
import { StreamEnvironment } from '../../src/api/stream-environment.ts';
import type { Sink } from '../../src/connector/sink.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { OutputTag } from '../../src/core/output-tag.ts';
import { planJob } from '../../src/graph/plan.ts';
import type { StreamGraph } from '../../src/graph/stream-graph.ts';
import { CountTrigger } from '../../src/windows/count-trigger.ts';
import { EventTimeSessionWindows } from '../../src/windows/event-time-session-windows.ts';
import { ProcessingTimeSessionWindows } from '../../src/windows/processing-time-session-windows.ts';
import { SlidingProcessingTimeWindows } from '../../src/windows/sliding-processing-time-windows.ts';
import { TumblingEventTimeWindows } from '../../src/windows/tumbling-event-time-windows.ts';
import { TumblingProcessingTimeWindows } from '../../src/windows/tumbling-processing-time-windows.ts';
import { edgesInto, listStream, nodeByName } from './api-test-support.ts';

interface Event {
  readonly key: string;
  readonly ts: number;
}

const noopSink: Sink<unknown> = {
  createWriter: () => {
    throw new Error('not run');
  },
  describe: () => 'noop',
};

const noopProcess: KeyedProcessFunction<string, Event, Event> = {
  processElement(value, _context, out) {
    out.collect(value);
  },
};

function setup(parallelism = 2) {
  const env = new StreamEnvironment({ jobName: 'graph-test', parallelism });
  const events = listStream<Event>(env, 'events', [], (e) => e.ts);
  return { env, events };
}

const graphOf = (env: StreamEnvironment): StreamGraph => env.getStreamGraph();

function expectPlanError(env: StreamEnvironment, pattern: RegExp): void {
  const graph = graphOf(env);
  expect(() => planJob(graph)).toThrow(ConfigurationError);
  expect(() => planJob(graph)).toThrow(pattern);
}

describe('StreamEnvironment graph building: uids', () => {
  it('a source without a uid is rejected when it is added, naming the source', () => {
    const env = new StreamEnvironment();
    expect(() =>
      env.fromSource(
        { createReader: () => undefined, createEnumerator: () => undefined, describe: () => 'my-source' } as never,
        undefined as never,
        {} as never,
      ),
    ).toThrow(/source my-source needs a uid: env\.fromSource\(source, strategy, \{ uid: 'orders-source' \}\)/);
  });

  it('a sink without a uid is rejected, naming the sink', () => {
    const { events } = setup();
    expect(() => events.sinkTo(noopSink, {} as never)).toThrow(/sink noop needs a uid/);
    expect(() => events.sinkTo(noopSink, { uid: '  ' })).toThrow(ConfigurationError);
  });

  it.each([
    ['keyed process', (s: ReturnType<typeof setup>) => s.events.keyBy((e) => e.key).process(noopProcess), "'KeyedProcess' (keyed-process #2)"],
    ['rolling reduce', (s: ReturnType<typeof setup>) => s.events.keyBy((e) => e.key).reduce((a) => a), "'KeyedReduce' (keyed-reduce #2)"],
    [
      'window',
      (s: ReturnType<typeof setup>) =>
        s.events
          .keyBy((e) => e.key)
          .window(TumblingEventTimeWindows.of(10))
          .reduce((a) => a),
      'window #2',
    ],
    [
      'interval join',
      (s: ReturnType<typeof setup>) =>
        s.events
          .keyBy((e) => e.key)
          .intervalJoin(s.events.keyBy((e) => e.key))
          .between(0, 1)
          .process({ processElement: (l, _r, _c, out) => out.collect(l) }),
      "'IntervalJoin[0, 1]' (interval-join #2)",
    ],
    [
      'keyed co-process',
      (s: ReturnType<typeof setup>) =>
        s.events
          .connect(s.events)
          .keyBy((e) => e.key, (e) => e.key)
          .process({ processElement1: () => {}, processElement2: () => {} }),
      "'KeyedCoProcess' (keyed-co-process #2)",
    ],
    [
      'broadcast process',
      (s: ReturnType<typeof setup>) =>
        s.events.connect(s.events.broadcast(broadcastState<string, number>('b'))).process({
          processElement: () => {},
          processBroadcastElement: () => {},
        }),
      "'BroadcastProcess' (broadcast-process #2)",
    ],
  ])('a stateful %s without a uid fails planning, naming the operator', (_name, build, described) => {
    const s = setup();
    build(s);
    expectPlanError(s.env, /is stateful and needs a uid: call \.uid\('\.\.\.'\)/);
    expect(() => planJob(graphOf(s.env))).toThrow(described.includes("'") ? described : new RegExp(described));
  });

  it('stateless operators need no uid; a stateful one with a uid plans', () => {
    const { env, events } = setup();
    events
      .map((e) => e)
      .filter(() => true)
      .flatMap<Event>((e, out) => out.collect(e))
      .process<Event>({ processElement: (e, _c, out) => out.collect(e) })
      .keyBy((e) => e.key)
      .process(noopProcess)
      .uid('per-key')
      .sinkTo(noopSink, { uid: 'out' });
    const plan = planJob(graphOf(env));
    expect(plan.nodes.size).toBe(7);
    expect(graphOf(env).nodes.find((n) => n.kind === 'map')!.hasUserUid).toBe(false);
  });

  it('duplicate uids are rejected, naming both operators', () => {
    const { env, events } = setup();
    events.keyBy((e) => e.key).process(noopProcess).uid('same');
    events.sinkTo(noopSink, { uid: 'same' });
    expectPlanError(env, /uid 'same' is used by both 'KeyedProcess' \(keyed-process #2\) and 'Sink: noop' \(sink #3\): uids must be unique/);
  });

  it('uid() and name() reject empty strings; setParallelism rejects non-integers', () => {
    const { events } = setup();
    const mapped = events.map((e) => e);
    expect(() => mapped.uid('')).toThrow(/uid of 'Map' must be a non-empty string/);
    expect(() => mapped.name(' ')).toThrow(/an operator name must be a non-empty string/);
    expect(() => mapped.setParallelism(1.5)).toThrow(/parallelism of 'Map' must be a whole number ≥ 1, got 1.5/);
  });
});

describe('StreamEnvironment graph building: edges', () => {
  it('records each partitioning kind on its edge', () => {
    const { env, events } = setup(3);
    const custom = (key: string, n: number): number => key.length % n;
    events.keyBy((e) => e.key).map((e) => e).name('after-keyBy');
    events.rebalance().map((e) => e).name('after-rebalance');
    events.broadcast().map((e) => e).name('after-broadcast');
    events.global().map((e) => e).name('after-global');
    events.forward().map((e) => e).name('after-forward');
    events.partitionCustom(custom, (e) => e.key).map((e) => e).name('after-custom');
    const graph = graphOf(env);
    const kindInto = (name: string) => edgesInto(graph, nodeByName(graph, name)).map((e) => e.partitioning.kind);
    expect(kindInto('after-keyBy')).toEqual(['hash']);
    expect(kindInto('after-rebalance')).toEqual(['rebalance']);
    expect(kindInto('after-broadcast')).toEqual(['broadcast']);
    expect(kindInto('after-global')).toEqual(['global']);
    expect(kindInto('after-forward')).toEqual(['forward']);
    expect(kindInto('after-custom')).toEqual(['custom']);
    const hash = edgesInto(graph, nodeByName(graph, 'after-keyBy'))[0]!.partitioning;
    expect(hash.kind === 'hash' && hash.keySelector({ key: 'k', ts: 0 })).toBe('k');
    const customEdge = edgesInto(graph, nodeByName(graph, 'after-custom'))[0]!.partitioning;
    expect(customEdge.kind === 'custom' && customEdge.partitioner('abcd', 3)).toBe(1);
  });

  it('without an explicit partitioning: forward at equal parallelism, rebalance otherwise', () => {
    const { env, events } = setup(2);
    const same = events.map((e) => e).name('same');
    same.map((e) => e).name('wider').setParallelism(3);
    const graph = graphOf(env);
    expect(edgesInto(graph, nodeByName(graph, 'same'))[0]!.partitioning).toEqual({ kind: 'forward' });
    expect(edgesInto(graph, nodeByName(graph, 'wider'))[0]!.partitioning).toEqual({ kind: 'rebalance' });
  });

  it('forward between different parallelisms is rejected at planning', () => {
    const { env, events } = setup(2);
    events.forward().map((e) => e).setParallelism(3);
    expect(() => planJob(graphOf(env))).toThrow(ConfigurationError);
  });

  it('union: one edge per input stream into the same input; partitionings are kept per origin', () => {
    const { env, events } = setup();
    const other = listStream<Event>(env, 'other', [], (e) => e.ts);
    const third = listStream<Event>(env, 'third', [], (e) => e.ts);
    events.union(other.rebalance(), third).map((e) => e).name('merged');
    const graph = graphOf(env);
    const edges = edgesInto(graph, nodeByName(graph, 'merged'));
    expect(edges.map((e) => [graph.nodes.find((n) => n.id === e.sourceId)!.uid, e.targetInput, e.partitioning.kind])).toEqual([
      ['events', 0, 'forward'],
      ['other', 0, 'rebalance'],
      ['third', 0, 'forward'],
    ]);
  });

  it('union across environments is rejected', () => {
    const a = setup();
    const b = setup();
    expect(() => a.events.union(b.events)).toThrow(/union: all streams must come from the same environment/);
  });

  it('side outputs are edges carrying the tag id', () => {
    const { env, events } = setup();
    const late = new OutputTag<Event>('late-events');
    const main = events.process<Event>({
      processElement: (e, context, out) => (e.ts < 0 ? context.output(late, e) : out.collect(e)),
    });
    main.getSideOutput(late).map((e) => e).name('late-handler');
    main.map((e) => e).name('main-handler');
    const graph = graphOf(env);
    expect(edgesInto(graph, nodeByName(graph, 'late-handler'))).toMatchObject([{ sourceId: main.node.id, sideOutputTagId: 'late-events' }]);
    expect(edgesInto(graph, nodeByName(graph, 'main-handler'))).toMatchObject([{ sourceId: main.node.id, sideOutputTagId: undefined }]);
  });

  it('connect + keyBy: two hash edges into inputs 0 and 1 of one two-input node', () => {
    const { env, events } = setup();
    const other = listStream<{ id: string }>(env, 'other', [], () => 0);
    const co = events
      .connect(other)
      .keyBy((e) => e.key, (o) => o.id)
      .process<string, string>({ processElement1: () => {}, processElement2: () => {} })
      .uid('co');
    const graph = graphOf(env);
    expect(co.node.numInputs).toBe(2);
    expect(co.node.kind).toBe('keyed-co-process');
    const edges = edgesInto(graph, co.node).map((e) => ({ input: e.targetInput, kind: e.partitioning.kind }));
    expect(edges).toEqual([
      { input: 0, kind: 'hash' },
      { input: 1, kind: 'hash' },
    ]);
    const second = edgesInto(graph, co.node)[1]!.partitioning;
    expect(second.kind === 'hash' && second.keySelector({ id: 'x' })).toBe('x');
  });

  it('connect: keyed on one side only is rejected; unkeyed makes a co-process node', () => {
    const { events } = setup();
    expect(() =>
      events
        .keyBy((e) => e.key)
        .connect(events)
        .process({ processElement1: () => {}, processElement2: () => {} }),
    ).toThrow(/either both inputs are keyed or neither is/);
    const plain = events.connect(events).map(
      (e) => e.key,
      (e) => e.key,
    );
    expect(plain.node.kind).toBe('co-map');
  });

  it('a broadcast-state stream is connected by a broadcast edge into input 1', () => {
    const { env, events } = setup();
    const rules = listStream<string>(env, 'rules', [], () => 0);
    const node = events
      .keyBy((e) => e.key)
      .connect(rules.broadcast(broadcastState<string, string>('rules')))
      .process<string, string>({ processElement: () => {}, processBroadcastElement: () => {} })
      .uid('b').node;
    expect(node.kind).toBe('keyed-broadcast-process');
    expect(edgesInto(graphOf(env), node).map((e) => [e.targetInput, e.partitioning.kind])).toEqual([
      [0, 'hash'],
      [1, 'broadcast'],
    ]);
  });

  it('an environment without operators is rejected', () => {
    expect(() => new StreamEnvironment({ jobName: 'empty' }).getStreamGraph()).toThrow(/job 'empty' defines no operators/);
  });
});

describe('StreamEnvironment graph building: validation messages', () => {
  it('intervalJoin bounds', () => {
    const { events } = setup();
    const keyed = events.keyBy((e) => e.key);
    expect(() => keyed.intervalJoin(keyed).between(5, 1)).toThrow(/interval join lower bound must be ≤ upper bound, got \[5, 1\]/);
    expect(() => keyed.intervalJoin(keyed).between(0.5, 1)).toThrow(/interval join bounds must be whole milliseconds, got \[0.5, 1\]/);
    expect(() => keyed.intervalJoin(keyed).between(0, Number.NaN)).toThrow(/whole milliseconds/);
    expect(() =>
      keyed
        .intervalJoin(keyed)
        .between(3, 3)
        .upperBoundExclusive()
        .process({ processElement: () => {} }),
    ).toThrow(/the bounds \[3, 3\] with exclusive ends contain no millisecond/);
    expect(() =>
      keyed
        .intervalJoin(keyed)
        .between(0, 1)
        .lowerBoundExclusive()
        .upperBoundExclusive()
        .process({ processElement: () => {} }),
    ).toThrow(/the bounds \[0, 1\] with exclusive ends contain no millisecond/);
    expect(() => keyed.intervalJoin(events as never)).toThrow(/intervalJoin needs another keyed stream/);
    // A zero-width inclusive interval is fine.
    expect(() => keyed.intervalJoin(keyed).between(3, 3).process({ processElement: () => {} })).not.toThrow();
  });

  it('window: allowed lateness only on event-time windows; must be ≥ 0', () => {
    const { events } = setup();
    const keyed = events.keyBy((e) => e.key);
    expect(() => keyed.window(TumblingProcessingTimeWindows.of(10)).allowedLateness(5)).toThrow(
      /allowed lateness only applies to event-time windows/,
    );
    expect(() => keyed.window(SlidingProcessingTimeWindows.of(10, 5)).allowedLateness(5)).toThrow(/event-time windows/);
    expect(() => keyed.window(TumblingProcessingTimeWindows.of(10)).allowedLateness(0)).not.toThrow();
    expect(() => keyed.window(TumblingEventTimeWindows.of(10)).allowedLateness(-1)).toThrow(
      /allowed lateness must be a whole number of milliseconds ≥ 0, got -1/,
    );
  });

  it('window: aggregate on session windows needs merge; non-merging triggers are rejected', () => {
    const { events } = setup();
    const keyed = events.keyBy((e) => e.key);
    const count = { createAccumulator: () => 0, add: (_e: Event, n: number) => n + 1, getResult: (n: number) => n };
    for (const assigner of [EventTimeSessionWindows.withGap(10), ProcessingTimeSessionWindows.withGap(10)]) {
      expect(() => keyed.window(assigner).aggregate(count)).toThrow(/aggregate on session \(merging\) windows needs an AggregateFunction with merge/);
      expect(() => keyed.window(assigner).aggregate({ ...count, merge: (a: number, b: number) => a + b })).not.toThrow();
    }
    expect(() => keyed.window(TumblingEventTimeWindows.of(10)).aggregate(count)).not.toThrow();
    const nonMerging = { onElement: () => 'continue', canMerge: () => false };
    expect(() => keyed.window(EventTimeSessionWindows.withGap(10)).trigger(nonMerging as never)).toThrow(
      /this trigger cannot be used with merging \(session\) windows: it does not support merging/,
    );
    expect(() => keyed.window(EventTimeSessionWindows.withGap(10)).trigger(CountTrigger.of(2) as never)).not.toThrow();
    expect(() => keyed.window({} as never)).toThrow(/window needs a WindowAssigner/);
  });

  it('countWindow: size and slide', () => {
    const { env, events } = setup();
    const keyed = events.keyBy((e) => e.key);
    expect(() => keyed.countWindow(0)).toThrow(/count window size must be a whole number ≥ 1, got 0/);
    expect(() => keyed.countWindow(3, 4)).toThrow(/count window slide must be a whole number in \[1, size=3\], got 4/);
    expect(() => keyed.countWindow(3, 0)).toThrow(/count window slide/);
    const tumbling = keyed.countWindow(3).reduce((a) => a).uid('c3');
    const sliding = keyed.countWindow(3, 1).reduce((a) => a).uid('c31');
    expect(tumbling.node.name).toMatch(/GlobalWindows/);
    expect(tumbling.node.name).toMatch(/Purging/);
    expect(sliding.node.name).toMatch(/CountEvictor/);
    expect(() => planJob(graphOf(env))).not.toThrow();
  });

  it.each([
    ['map', (s: ReturnType<typeof setup>) => s.events.map(42 as never), /map needs a function, got number/],
    ['filter', (s: ReturnType<typeof setup>) => s.events.filter(null as never), /filter needs a function, got null/],
    ['flatMap', (s: ReturnType<typeof setup>) => s.events.flatMap('x' as never), /flatMap needs a function, got string/],
    ['keyBy', (s: ReturnType<typeof setup>) => s.events.keyBy(undefined as never), /keyBy needs a function, got undefined/],
    ['process', (s: ReturnType<typeof setup>) => s.events.process({} as never), /process needs an object with a processElement\(\.\.\.\) method/],
    ['keyed process', (s: ReturnType<typeof setup>) => s.events.keyBy((e) => e.key).process((() => {}) as never), /process needs an object with a processElement/],
    ['reduce', (s: ReturnType<typeof setup>) => s.events.keyBy((e) => e.key).reduce({} as never), /reduce needs a function, got object/],
    ['partitionCustom', (s: ReturnType<typeof setup>) => s.events.partitionCustom(1 as never, (e) => e.key), /partitionCustom needs a function/],
    [
      'window reduce',
      (s: ReturnType<typeof setup>) => s.events.keyBy((e) => e.key).window(TumblingEventTimeWindows.of(1)).reduce(5 as never),
      /reduce needs a function, got number/,
    ],
    [
      'window aggregate',
      (s: ReturnType<typeof setup>) => s.events.keyBy((e) => e.key).window(TumblingEventTimeWindows.of(1)).aggregate((() => 0) as never),
      /aggregate needs an object with a add\(\.\.\.\) method/,
    ],
    [
      'co-process',
      (s: ReturnType<typeof setup>) => s.events.connect(s.events).process({ processElement1: 1 } as never),
      /process needs an object with a processElement1/,
    ],
    [
      'broadcast process',
      (s: ReturnType<typeof setup>) => s.events.connect(s.events.broadcast(broadcastState('x'))).process({ processElement: () => {} } as never),
      /process needs an object with a processBroadcastElement/,
    ],
    [
      'join where',
      (s: ReturnType<typeof setup>) => s.events.join(s.events).where('key' as never),
      /where needs a function, got string/,
    ],
    ['sinkTo', (s: ReturnType<typeof setup>) => s.events.sinkTo({} as never, { uid: 'x' }), /sinkTo needs a Sink/],
  ])('%s with a non-function says what it needs', (_name, build, message) => {
    const s = setup();
    expect(() => build(s)).toThrow(ConfigurationError);
    expect(() => build(setup())).toThrow(message);
  });
});
