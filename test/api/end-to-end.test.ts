import { afterEach, describe, expect, it } from 'vitest';
import type { CollectSink } from '../../connectors/collect/index.ts';
import { broadcastState, type KeyedBroadcastProcessFunction, type KeyedProcessFunction } from '../../src/api/functions.ts';
import { StreamEnvironment } from '../../src/api/stream-environment.ts';
import { OutputTag } from '../../src/core/output-tag.ts';
import { executeJob } from '../../src/runtime/local-executor.ts';
import { valueState } from '../../src/state/descriptors.ts';
import type { ValueState } from '../../src/state/state.ts';
import { TumblingEventTimeWindows } from '../../src/windows/tumbling-event-time-windows.ts';
import { listStream, multiset, uniqueCollectSink } from './api-test-support.ts';

interface Order {
  readonly key: string;
  readonly ts: number;
  readonly amount: number;
}
interface Payment {
  readonly key: string;
  readonly ts: number;
  readonly method: string;
}

const orders: Order[] = [
  { key: 'a', ts: 1, amount: 10 },
  { key: 'b', ts: 3, amount: 20 },
  { key: 'a', ts: 8, amount: 30 },
  { key: 'a', ts: 12, amount: 40 },
  { key: 'c', ts: 15, amount: 50 },
  { key: 'b', ts: 25, amount: 60 },
];
const payments: Payment[] = [
  { key: 'a', ts: 2, method: 'card' },
  { key: 'a', ts: 9, method: 'cash' },
  { key: 'b', ts: 11, method: 'card' },
  { key: 'a', ts: 19, method: 'card' },
  { key: 'd', ts: 21, method: 'cash' },
  { key: 'b', ts: 29, method: 'cash' },
];

const windowOf = (ts: number): number => Math.floor(ts / 10) * 10;

const sinks: Array<CollectSink<unknown>> = [];
function sinkFor<T>(name: string): CollectSink<T> {
  const sink = uniqueCollectSink<T>(name);
  sinks.push(sink as CollectSink<unknown>);
  return sink;
}
afterEach(() => {
  for (const sink of sinks.splice(0)) sink.close();
});

describe.each([1, 2])('end to end through the API at parallelism %i (workers: 0)', (parallelism) => {
  function environment(): StreamEnvironment {
    return new StreamEnvironment({ jobName: 'api-e2e', parallelism });
  }

  it('window join: every pair of the same key in the same tumbling window', async () => {
    const env = environment();
    const sink = sinkFor<[string, number, number, number]>('join');
    listStream(env, 'orders', orders, (o) => o.ts)
      .join(listStream(env, 'payments', payments, (p) => p.ts))
      .where((o) => o.key)
      .equalTo((p) => p.key)
      .window(TumblingEventTimeWindows.of(10))
      .apply((o, p) => [o.key, o.amount, p.ts, windowOf(o.ts)] as [string, number, number, number])
      .uid('join')
      .sinkTo(sink, { uid: 'join-out' });
    await executeJob(env.getStreamGraph(), { workers: 0 });
    const expected: Array<[string, number, number, number]> = [];
    for (const o of orders) {
      for (const p of payments) if (o.key === p.key && windowOf(o.ts) === windowOf(p.ts)) expected.push([o.key, o.amount, p.ts, windowOf(o.ts)]);
    }
    expect(expected.length).toBe(6);
    expect(multiset(sink.results())).toEqual(multiset(expected));
  });

  it('window coGroup: once per key and window with both sides (outer join)', async () => {
    const env = environment();
    const sink = sinkFor<string>('cogroup');
    listStream(env, 'orders', orders, (o) => o.ts)
      .coGroup(listStream(env, 'payments', payments, (p) => p.ts))
      .where((o) => o.key)
      .equalTo((p) => p.key)
      .window(TumblingEventTimeWindows.of(10))
      .coGroup<string>((os, ps, out) => {
        const key = os[0]?.key ?? ps[0]!.key;
        const window = windowOf(os[0]?.ts ?? ps[0]!.ts);
        out.collect(`${key}@${window}: ${os.map((o) => o.amount).sort((x, y) => x - y).join(',')} | ${ps.map((p) => p.method).sort().join(',')}`);
      })
      .uid('cogroup')
      .sinkTo(sink, { uid: 'cogroup-out' });
    await executeJob(env.getStreamGraph(), { workers: 0 });
    expect(sink.results().sort()).toEqual([
      'a@0: 10,30 | card,cash',
      'a@10: 40 | card',
      'b@0: 20 | ',
      'b@10:  | card',
      'b@20: 60 | cash',
      'c@10: 50 | ',
      'd@20:  | cash',
    ]);
  });

  it('rolling reduce: the running reduction per key after every record', async () => {
    const env = environment();
    const sink = sinkFor<Order>('reduce');
    listStream(env, 'orders', orders, (o) => o.ts)
      .keyBy((o) => o.key)
      .reduce((acc, o) => ({ key: acc.key, ts: o.ts, amount: acc.amount + o.amount }))
      .uid('running-total')
      .sinkTo(sink, { uid: 'reduce-out' });
    await executeJob(env.getStreamGraph(), { workers: 0 });
    // Per key, results arrive in input order (one subtask owns a key).
    const byKey = (key: string) => sink.results().filter((o) => o.key === key).map((o) => o.amount);
    expect(byKey('a')).toEqual([10, 40, 80]);
    expect(byKey('b')).toEqual([20, 80]);
    expect(byKey('c')).toEqual([50]);
    expect(sink.results()).toHaveLength(orders.length);
  });

  it('countWindow: tumbling fires every n records per key; sliding every slide records over the last size', async () => {
    const env = environment();
    const tumbling = sinkFor<number>('count-tumbling');
    const sliding = sinkFor<number>('count-sliding');
    const values = Array.from({ length: 10 }, (_, i) => ({ key: i % 2 === 0 ? 'even' : 'odd', ts: i, amount: i }));
    const keyed = listStream(env, 'numbers', values, (v) => v.ts).keyBy((v) => v.key);
    keyed
      .countWindow(2)
      .aggregate({ createAccumulator: () => 0, add: (v, acc: number) => acc + v.amount, getResult: (acc) => acc })
      .uid('count-2')
      .sinkTo(tumbling, { uid: 'tumbling-out' });
    keyed
      .countWindow(3, 2)
      .aggregate({ createAccumulator: () => 0, add: (v, acc: number) => acc + v.amount, getResult: (acc) => acc })
      .uid('count-3-2')
      .sinkTo(sliding, { uid: 'sliding-out' });
    await executeJob(env.getStreamGraph(), { workers: 0 });
    // even: 0,2,4,6,8 ▶ [0+2, 4+6] (8 left over); odd: 1,3,5,7,9 ▶ [1+3, 5+7].
    expect(tumbling.results().sort((a, b) => a - b)).toEqual([2, 4, 10, 12]);
    // Sliding (size 3, slide 2): after the 2nd and 4th record of each key, the last ≤ 3 records.
    // even: [0,2]=2, [2,4,6]=12; odd: [1,3]=4, [3,5,7]=15.
    expect(sliding.results().sort((a, b) => a - b)).toEqual([2, 4, 12, 15]);
  });

  it('broadcast state pattern: every rule reaches every subtask; orders decided on an event-time timer see all earlier rules', async () => {
    const env = environment();
    const sink = sinkFor<string>('broadcast');
    const unruledSink = sinkFor<Order>('unruled');
    const unruled = new OutputTag<Order>('unruled');
    const RULES = broadcastState<string, number>('discounts');
    const PENDING = valueState<Order[]>('pending', { defaultValue: [] });
    interface Rule {
      readonly key: string;
      readonly ts: number;
      readonly percent: number;
    }
    // Rules at ts 0; orders at ts ≥ 1. The operator watermark (min of both inputs) reaches an
    // order's timestamp only after the rules input passed ts 0, so every rule has been applied by then.
    const rules = listStream<Rule>(env, 'rules', [
      { key: 'a', ts: 0, percent: 10 },
      { key: 'b', ts: 0, percent: 50 },
    ], (r) => r.ts);
    interface Discounting extends KeyedBroadcastProcessFunction<string, Order, Rule, string> {
      subtask: number;
      pending: ValueState<Order[]>;
    }
    const discounting: Discounting = {
      subtask: -1,
      pending: undefined as unknown as ValueState<Order[]>,
      open(context) {
        this.subtask = context.subtask;
        this.pending = context.getValueState(PENDING);
      },
      processElement(order, context) {
        this.pending.update([...this.pending.value()!, order]);
        context.timerService.registerEventTimeTimer(order.ts);
      },
      processBroadcastElement(rule, context, out) {
        context.getBroadcastState(RULES).put(rule.key, rule.percent);
        out.collect(`rule ${rule.key} at subtask ${this.subtask}`);
      },
      onTimer(ts, context, out) {
        const percent = context.getBroadcastState(RULES).get(context.currentKey);
        for (const order of this.pending.value()!.filter((o) => o.ts === ts)) {
          if (percent === undefined) context.output(unruled, order);
          else out.collect(`${order.key}:${(order.amount * (100 - percent)) / 100}`);
        }
        this.pending.update(this.pending.value()!.filter((o) => o.ts !== ts));
      },
    };
    const discounted = listStream(env, 'orders', orders, (o) => o.ts)
      .keyBy((o) => o.key)
      .connect(rules.broadcast(RULES))
      .process<string, string>(discounting)
      .uid('discounts');
    discounted.sinkTo(sink, { uid: 'discounted' });
    discounted.getSideOutput(unruled).sinkTo(unruledSink, { uid: 'unruled-out' });
    await executeJob(env.getStreamGraph(), { workers: 0 });
    const expectedRuleLines: string[] = [];
    for (let subtask = 0; subtask < parallelism; subtask++) expectedRuleLines.push(`rule a at subtask ${subtask}`, `rule b at subtask ${subtask}`);
    expect(sink.results().filter((line) => line.startsWith('rule ')).sort()).toEqual(expectedRuleLines.sort());
    expect(sink.results().filter((line) => !line.startsWith('rule ')).sort()).toEqual(['a:27', 'a:36', 'a:9', 'b:10', 'b:30']);
    expect(unruledSink.results()).toEqual([{ key: 'c', ts: 15, amount: 50 }]);
  });

  it('union and side outputs end to end', async () => {
    const env = environment();
    const main = sinkFor<number>('main');
    const side = sinkFor<number>('side');
    const big = new OutputTag<number>('big');
    const amounts = listStream(env, 'orders', orders, (o) => o.ts).map((o) => o.amount);
    const methods = listStream(env, 'payments', payments, (p) => p.ts).map((p) => p.method.length);
    const split = amounts.union(methods).process<number>({
      processElement(value, context, out) {
        if (value >= 40) context.output(big, value);
        else out.collect(value);
      },
    });
    split.sinkTo(main, { uid: 'main-out' });
    split.getSideOutput(big).sinkTo(side, { uid: 'side-out' });
    await executeJob(env.getStreamGraph(), { workers: 0 });
    expect(main.results().sort((a, b) => a - b)).toEqual([4, 4, 4, 4, 4, 4, 10, 20, 30]);
    expect(side.results().sort((a, b) => a - b)).toEqual([40, 50, 60]);
  });

  it('a keyed process function sees every record of its key on one subtask', async () => {
    const env = environment();
    const sink = sinkFor<[string, number, number]>('keyed');
    const COUNT = valueState<number>('count', { defaultValue: 0 });
    interface Counting extends KeyedProcessFunction<string, Order, [string, number, number]> {
      count: ValueState<number>;
      subtask: number;
    }
    const counting: Counting = {
      count: undefined as unknown as ValueState<number>,
      subtask: -1,
      open(context) {
        this.count = context.getValueState(COUNT);
        this.subtask = context.subtask;
      },
      processElement(_order, context) {
        this.count.update(this.count.value()! + 1);
        context.timerService.registerEventTimeTimer(1_000);
      },
      onTimer(_ts, context, out) {
        out.collect([context.currentKey, this.count.value()!, this.subtask]);
      },
    };
    listStream(env, 'orders', orders, (o) => o.ts)
      .keyBy((o) => o.key)
      .process(counting)
      .uid('count')
      .sinkTo(sink, { uid: 'count-out' });
    await executeJob(env.getStreamGraph(), { workers: 0 });
    expect(sink.results().map(([k, n]) => `${k}=${n}`).sort()).toEqual(['a=3', 'b=2', 'c=1']);
    if (parallelism === 1) expect(new Set(sink.results().map(([, , s]) => s))).toEqual(new Set([0]));
  });
});
