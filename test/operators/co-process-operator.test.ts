import { describe, expect, it } from 'vitest';
import type { CoProcessFunction, KeyedCoProcessFunction } from '../../src/api/functions.ts';
import { OutputTag } from '../../src/core/output-tag.ts';
import { CoProcessOperator, KeyedCoProcessOperator } from '../../src/operators/co-process-operator.ts';
import { valueState } from '../../src/state/descriptors.ts';
import type { ValueState } from '../../src/state/state.ts';
import { OperatorTestHarness } from '../harness/operator-test-harness.ts';
import { assertRestoreAnywhereGivesSameOutput, scriptArbitrary } from './replay.ts';

interface Event {
  readonly key: string;
  readonly n: number;
}
const ev = (key: string, n: number): Event => ({ key, n });
const byKey = (e: Event): string => e.key;

const SUM = valueState<number>('sum', { defaultValue: 0 });

/**
 * Input 0 adds, input 1 subtracts, sharing one sum per key; every record registers an event-time
 * timer at ts + 10 (when not late) that emits the key's sum.
 */
interface SumFunction extends KeyedCoProcessFunction<string, Event, Event, string> {
  add(delta: number, context: Parameters<KeyedCoProcessFunction<string, Event, Event, string>['processElement1']>[1], out: { collect(v: string): void }): void;
  state: ValueState<number>;
}
const sumFunction: SumFunction = {
  state: undefined as unknown as SumFunction['state'],
  open(context) {
    this.state = context.getValueState(SUM);
  },
  add(delta, context, out) {
    this.state.update(this.state.value()! + delta);
    out.collect(`${context.currentKey}=${this.state.value()}`);
    if (context.timestamp > context.currentWatermark) context.timerService.registerEventTimeTimer(context.timestamp + 10);
  },
  processElement1(value, context, out) {
    this.add(value.n, context, out);
  },
  processElement2(value, context, out) {
    this.add(-value.n, context, out);
  },
  onTimer(ts, context, out) {
    out.collect(`timer ${context.currentKey}@${ts}=${this.state.value()}`);
  },
};

const keyedOperator = () => new KeyedCoProcessOperator<string, Event, Event, string>(byKey, byKey, sumFunction);

describe('KeyedCoProcessOperator', () => {
  it('shares keyed state between the two inputs', () => {
    const h = new OperatorTestHarness(keyedOperator).open();
    h.processElement(ev('a', 5), 1, 0).processElement(ev('a', 2), 2, 1).processElement(ev('b', 1), 3, 1);
    expect(h.records()).toEqual([
      ['a=5', 1],
      ['a=3', 2],
      ['b=-1', 3],
    ]);
  });

  it('its watermark is the min of both inputs: forwarded only when both advanced', () => {
    const h = new OperatorTestHarness(keyedOperator).open();
    h.processWatermark(100, 0);
    expect(h.watermarks()).toEqual([]);
    h.processWatermark(40, 1);
    expect(h.watermarks()).toEqual([40]);
    h.processWatermark(70, 1);
    expect(h.watermarks()).toEqual([40, 70]);
    h.processWatermark(200, 1);
    expect(h.watermarks()).toEqual([40, 70, 100]);
    // Older watermarks on one input never pull the output back.
    h.processWatermark(50, 0);
    expect(h.watermarks()).toEqual([40, 70, 100]);
  });

  it('a timer fires only when both inputs passed it', () => {
    const h = new OperatorTestHarness(keyedOperator).open();
    h.processElement(ev('a', 1), 10, 0);
    h.processWatermark(30, 0);
    expect(h.values()).toEqual(['a=1']);
    h.processWatermark(19, 1);
    expect(h.values()).toEqual(['a=1']);
    h.processWatermark(20, 1);
    expect(h.records().at(-1)).toEqual(['timer a@20=1', 20]);
    expect(h.watermarks()).toEqual([19, 20]);
  });

  it('an idle input does not hold the watermark back; when it becomes active again it counts again', () => {
    const h = new OperatorTestHarness(keyedOperator).open();
    h.processElement(ev('a', 1), 10, 0);
    h.processWatermark(50, 0);
    expect(h.watermarks()).toEqual([]);
    h.processWatermarkStatus(true, 1);
    expect(h.watermarks()).toEqual([50]);
    expect(h.values()).toEqual(['a=1', 'timer a@20=1']);
    // Only input 1 idle: the operator is not idle downstream.
    expect(h.emitted.filter((e) => e.kind === 'status')).toEqual([]);
    h.processWatermarkStatus(false, 1);
    h.processWatermark(80, 0);
    expect(h.watermarks()).toEqual([50]);
    h.processWatermark(60, 1);
    expect(h.watermarks()).toEqual([50, 60]);
  });

  it('is idle downstream exactly when both inputs are idle', () => {
    const h = new OperatorTestHarness(keyedOperator).open();
    h.processWatermarkStatus(true, 0);
    h.processWatermarkStatus(true, 1);
    h.processWatermarkStatus(false, 0);
    expect(h.emitted.filter((e) => e.kind === 'status')).toEqual([
      { kind: 'status', isIdle: true },
      { kind: 'status', isIdle: false },
    ]);
  });

  it('property: a snapshot ▶ restore at any point gives the same output as an uninterrupted run', () => {
    assertRestoreAnywhereGivesSameOutput(
      keyedOperator,
      scriptArbitrary({ keys: ['a', 'b', 'c'], maxTs: 100, numInputs: 2 }),
      { numInputs: 2 },
    );
  });
});

describe('CoProcessOperator', () => {
  const LEFT = new OutputTag<number>('left-side');
  const fn: CoProcessFunction<number, string, string> = {
    processElement1(value, context, out) {
      out.collect(`1:${value}`);
      context.output(LEFT, value);
    },
    processElement2(value, context, out) {
      out.collect(`2:${value}@wm${context.currentWatermark}`);
    },
  };

  it('routes each input to its own method, keeps record timestamps, supports side outputs', () => {
    const h = new OperatorTestHarness(() => new CoProcessOperator<number, string, string>(fn)).open();
    h.processElement(7, 70, 0).processWatermark(5, 0).processWatermark(9, 1).processElement('x', 80, 1);
    expect(h.records()).toEqual([
      ['1:7', 70],
      ['2:x@wm5', 80],
    ]);
    expect(h.sideOutput(LEFT)).toEqual([[7, 70]]);
    expect(h.watermarks()).toEqual([5]);
  });

  it('has no keyed state or timers: the context says so', () => {
    const h = new OperatorTestHarness(
      () =>
        new CoProcessOperator<number, number, never>({
          processElement1(_v, context) {
            (context as unknown as { timerService: unknown }).timerService;
          },
          processElement2() {},
        }),
    ).open();
    expect(() => h.processElement(1, 1, 0)).toThrow(/timers are only available on keyed streams/);
  });

  it('gives each operator instance its own function instance', () => {
    const shared = {
      seen: 0,
      open() {
        this.seen = 0;
      },
      processElement1(_v: number, _c: unknown, out: { collect(v: number): void }) {
        this.seen++;
        out.collect(this.seen);
      },
      processElement2() {},
    };
    const a = new OperatorTestHarness(() => new CoProcessOperator<number, number, number>(shared)).open();
    const b = new OperatorTestHarness(() => new CoProcessOperator<number, number, number>(shared)).open();
    a.processElement(1, 1, 0).processElement(1, 1, 0);
    b.processElement(1, 1, 0);
    expect(a.values()).toEqual([1, 2]);
    expect(b.values()).toEqual([1]);
    expect(shared.seen).toBe(0);
  });
});
