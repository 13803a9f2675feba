import { describe, expect, it } from 'vitest';
import type { KeyedProcessFunction, KeyedRuntimeContext } from '../../src/api/functions.ts';
import { OutputTag } from '../../src/core/output-tag.ts';
import { KeyedProcessOperator } from '../../src/operators/keyed-process-operator.ts';
import { valueState, type ValueStateDescriptor } from '../../src/state/descriptors.ts';
import type { ValueState } from '../../src/state/state.ts';
import { OperatorTestHarness } from '../harness/operator-test-harness.ts';
import { assertRestoreAnywhereGivesSameOutput, scriptArbitrary } from './replay.ts';

interface Event {
  readonly key: string;
  readonly n: number;
}
const byKey = (e: Event): string => e.key;
const ev = (key: string, n: number): Event => ({ key, n });

const COUNT: ValueStateDescriptor<number> = valueState<number>('count', { defaultValue: 0 });

/**
 * Counts per key; on every record registers an event-time timer at ts + 10 (if not late) and a
 * processing-time timer at now + 5; each timer emits `{key, count, at, domain}`.
 */
interface CountingFunction extends KeyedProcessFunction<string, Event, unknown> {
  count: ValueState<number>;
}
const countingFunction: CountingFunction = {
  count: undefined as unknown as ValueState<number>,
  open(context: KeyedRuntimeContext) {
    this.count = context.getValueState(COUNT);
  },
  processElement(value, context, out) {
    this.count.update(this.count.value()! + value.n);
    out.collect({ key: context.currentKey, count: this.count.value() });
    if (context.timestamp > context.currentWatermark) context.timerService.registerEventTimeTimer(context.timestamp + 10);
    context.timerService.registerProcessingTimeTimer(context.currentProcessingTime + 5);
  },
  onTimer(timestampMs, context, out) {
    out.collect({ key: context.currentKey, count: this.count.value(), at: timestampMs, domain: context.timeDomain });
  },
};

const countingOperator = () => new KeyedProcessOperator<string, Event, unknown>(byKey, countingFunction);

function harnessOf<OUT>(fn: KeyedProcessFunction<string, Event, OUT>): OperatorTestHarness<OUT> {
  return new OperatorTestHarness<OUT>(() => new KeyedProcessOperator<string, Event, OUT>(byKey, fn)).open();
}

describe('KeyedProcessOperator', () => {
  it('keeps state per key, and output of processElement carries the record timestamp', () => {
    const h = new OperatorTestHarness(countingOperator).open();
    h.processElement(ev('a', 1), 100).processElement(ev('b', 5), 101).processElement(ev('a', 2), 102);
    expect(h.records()).toEqual([
      [{ key: 'a', count: 1 }, 100],
      [{ key: 'b', count: 5 }, 101],
      [{ key: 'a', count: 3 }, 102],
    ]);
    expect(h.metrics.recordsIn).toBe(3);
    expect(h.metrics.recordsOut).toBe(3);
  });

  it('fires event-time timers when the watermark reaches them, in timestamp order, with the timer key and timestamp, before forwarding the watermark', () => {
    const h = new OperatorTestHarness(countingOperator).open();
    h.processElement(ev('b', 1), 20).processElement(ev('a', 1), 10).processElement(ev('a', 1), 15);
    h.clearOutput();
    h.processWatermark(24);
    expect(h.emitted).toEqual([
      { kind: 'record', value: { key: 'a', count: 2, at: 20, domain: 'event-time' }, timestamp: 20 },
      { kind: 'watermark', timestamp: 24 },
    ]);
    h.clearOutput();
    h.processWatermark(30);
    expect(h.emitted).toEqual([
      { kind: 'record', value: { key: 'a', count: 2, at: 25, domain: 'event-time' }, timestamp: 25 },
      { kind: 'record', value: { key: 'b', count: 1, at: 30, domain: 'event-time' }, timestamp: 30 },
      { kind: 'watermark', timestamp: 30 },
    ]);
    // Fired timers are gone.
    h.clearOutput();
    h.processWatermark(1_000);
    expect(h.values()).toEqual([]);
  });

  it('deduplicates timers of the same key and timestamp, but not across keys or domains (equal timestamps fire in key-group order)', () => {
    const fired: Array<[string, number, string]> = [];
    const h = harnessOf<never>({
      processElement(value, context) {
        context.timerService.registerEventTimeTimer(50);
        context.timerService.registerEventTimeTimer(50);
        context.timerService.registerProcessingTimeTimer(50);
        void value;
      },
      onTimer(ts, context) {
        fired.push([context.currentKey, ts, context.timeDomain]);
      },
    });
    h.processElement(ev('a', 1), 1).processElement(ev('a', 1), 2).processElement(ev('b', 1), 3);
    h.processWatermark(50);
    h.setProcessingTime(50);
    // Key groups (of 128): 'b' ▶ 28, 'a' ▶ 90.
    expect(fired).toEqual([
      ['b', 50, 'event-time'],
      ['a', 50, 'event-time'],
      ['b', 50, 'processing-time'],
      ['a', 50, 'processing-time'],
    ]);
  });

  it('deleting a timer stops it from firing', () => {
    const fired: number[] = [];
    const h = harnessOf<never>({
      processElement(value, context) {
        if (value.n > 0) context.timerService.registerEventTimeTimer(value.n);
        else context.timerService.deleteEventTimeTimer(-value.n);
      },
      onTimer(ts) {
        fired.push(ts);
      },
    });
    h.processElement(ev('a', 10), 0).processElement(ev('a', 20), 0).processElement(ev('a', -10), 0);
    h.processWatermark(100);
    expect(fired).toEqual([20]);
  });

  it('fires processing-time timers when the clock reaches them', () => {
    const h = new OperatorTestHarness(countingOperator, { processingTimeMs: 1_000 }).open();
    h.processElement(ev('a', 1), 7);
    h.setProcessingTime(1_004);
    expect(h.values()).toEqual([{ key: 'a', count: 1 }]);
    h.setProcessingTime(1_005);
    expect(h.values().at(-1)).toEqual({ key: 'a', count: 1, at: 1_005, domain: 'processing-time' });
    // As in Flink, output of a processing-time timer carries no event time.
    expect(Number.isNaN(h.records().at(-1)![1])).toBe(true);
  });

  it('a timer registered while firing, already due, fires in the same watermark advance', () => {
    const fired: number[] = [];
    const h = harnessOf<never>({
      processElement(_value, context) {
        context.timerService.registerEventTimeTimer(10);
      },
      onTimer(ts, context) {
        fired.push(ts);
        if (ts === 10) context.timerService.registerEventTimeTimer(15);
      },
    });
    h.processElement(ev('a', 1), 0);
    h.processWatermark(20);
    expect(fired).toEqual([10, 15]);
    expect(h.watermarks()).toEqual([20]);
  });

  it('ctx.currentKey is the record key in processElement and the timer key in onTimer', () => {
    const seen: string[] = [];
    const h = harnessOf<never>({
      processElement(value, context) {
        seen.push(`element ${value.key}=${context.currentKey}`);
        context.timerService.registerEventTimeTimer(value.n);
      },
      onTimer(ts, context) {
        seen.push(`timer ${ts}=${context.currentKey}`);
      },
    });
    h.processElement(ev('x', 2), 0).processElement(ev('y', 1), 0);
    h.processWatermark(5);
    expect(seen).toEqual(['element x=x', 'element y=y', 'timer 1=y', 'timer 2=x']);
  });

  it('ctx.timestamp, currentWatermark and currentProcessingTime', () => {
    const seen: unknown[] = [];
    const h = new OperatorTestHarness(
      () =>
        new KeyedProcessOperator<string, Event, never>(byKey, {
          processElement(_value, context) {
            seen.push([context.timestamp, context.currentWatermark, context.currentProcessingTime, context.timerService.currentWatermark()]);
          },
        }),
      { processingTimeMs: 77 },
    ).open();
    h.processWatermark(40).processElement(ev('a', 1), 42);
    expect(seen).toEqual([[42, 40, 77, 40]]);
  });

  it('side outputs carry the record timestamp (or the timer timestamp in onTimer)', () => {
    const evens = new OutputTag<number>('evens');
    const h = harnessOf<number>({
      processElement(value, context, out) {
        if (value.n % 2 === 0) context.output(evens, value.n);
        else out.collect(value.n);
        context.timerService.registerEventTimeTimer(100);
      },
      onTimer(_ts, context) {
        context.output(evens, -1);
      },
    });
    h.processElement(ev('a', 1), 10).processElement(ev('a', 2), 11).processElement(ev('b', 4), 12);
    h.processWatermark(100);
    expect(h.records()).toEqual([[1, 10]]);
    expect(h.sideOutput(evens)).toEqual([
      [2, 11],
      [4, 12],
      [-1, 100],
      [-1, 100],
    ]);
  });

  it('rejects a non-integer timer timestamp with a message', () => {
    const h = harnessOf<never>({
      processElement(_value, context) {
        context.timerService.registerEventTimeTimer(1.5);
      },
    });
    expect(() => h.processElement(ev('a', 1), 0)).toThrow(/timer timestamp must be an integer epoch-ms, got 1.5/);
  });

  it('gives each operator instance its own function instance: fields set in open() are not shared', () => {
    interface Tracking extends KeyedProcessFunction<string, Event, string> {
      label: string | undefined;
      opened: number;
    }
    const shared: Tracking = {
      label: undefined,
      opened: 0,
      open(context) {
        this.label = `subtask-${context.subtask}`;
        this.opened += 1;
      },
      processElement(_value, _context, out) {
        out.collect(`${this.label}/${this.opened}`);
      },
    };
    const first = new OperatorTestHarness(() => new KeyedProcessOperator<string, Event, string>(byKey, shared), {
      parallelism: 2,
      subtask: 0,
    }).open();
    const second = new OperatorTestHarness(() => new KeyedProcessOperator<string, Event, string>(byKey, shared), {
      parallelism: 2,
      subtask: 1,
    }).open();
    // Keys owned by each subtask (128 key groups split in two): find one for each.
    const keyFor = (subtask: number): string => {
      for (let i = 0; ; i++) {
        const key = `k${i}`;
        try {
          (subtask === 0 ? first : second).processElement(ev(key, 1), 0);
          return key;
        } catch {
          // key group not owned by this subtask
        }
      }
    };
    keyFor(0);
    keyFor(1);
    expect(first.values()).toEqual(['subtask-0/1']);
    expect(second.values()).toEqual(['subtask-1/1']);
    expect(shared.label).toBeUndefined();
    expect(shared.opened).toBe(0);
  });

  it('closes the function instance on close', () => {
    let closed = 0;
    const h = harnessOf<never>({
      processElement() {},
      close() {
        closed++;
      },
    });
    h.close();
    expect(closed).toBe(1);
  });

  it('state and timers survive snapshot ▶ restore (timers fire after it, with state read at firing time)', () => {
    let h = new OperatorTestHarness(countingOperator, { processingTimeMs: 0 }).open();
    h.processElement(ev('a', 2), 10).processElement(ev('b', 3), 12);
    h = h.snapshotAndRestore();
    h.processElement(ev('a', 4), 13);
    h.processWatermark(22);
    h.setProcessingTime(5);
    expect(h.values()).toEqual([
      { key: 'a', count: 6 },
      { key: 'a', count: 6, at: 20, domain: 'event-time' },
      { key: 'b', count: 3, at: 22, domain: 'event-time' },
      { key: 'b', count: 3, at: 5, domain: 'processing-time' },
      { key: 'a', count: 6, at: 5, domain: 'processing-time' },
    ]);
  });

  it('property: a snapshot ▶ restore at any point gives the same output as an uninterrupted run', () => {
    assertRestoreAnywhereGivesSameOutput(
      countingOperator,
      scriptArbitrary({ keys: ['a', 'b', 'c', 'd'], maxTs: 100, withProcessingTime: true }),
    );
  });
});
