import { describe, expect, it } from 'vitest';
import type { ProcessFunction } from '../../src/api/functions.ts';
import type { Sink, SinkWriter } from '../../src/connector/sink.ts';
import { OutputTag } from '../../src/core/output-tag.ts';
import { FilterOperator, FlatMapOperator, MapOperator } from '../../src/operators/map-operator.ts';
import { ProcessOperator } from '../../src/operators/process-operator.ts';
import { SinkOperator } from '../../src/operators/sink-operator.ts';
import { OperatorTestHarness } from '../harness/operator-test-harness.ts';

describe('MapOperator / FilterOperator / FlatMapOperator', () => {
  it('map: one output per input with the input timestamp; forwards watermarks and counts', () => {
    const h = new OperatorTestHarness(() => new MapOperator<number, string>((n) => `#${n}`)).open();
    h.processElement(1, 10).processWatermark(5).processElement(2, 3);
    expect(h.emitted).toEqual([
      { kind: 'record', value: '#1', timestamp: 10 },
      { kind: 'watermark', timestamp: 5 },
      { kind: 'record', value: '#2', timestamp: 3 },
    ]);
    expect([h.metrics.recordsIn, h.metrics.recordsOut]).toEqual([2, 2]);
  });

  it('filter: keeps matching records unchanged', () => {
    const h = new OperatorTestHarness(() => new FilterOperator<number>((n) => n % 2 === 0)).open();
    for (let n = 0; n < 6; n++) h.processElement(n, n * 10);
    expect(h.records()).toEqual([
      [0, 0],
      [2, 20],
      [4, 40],
    ]);
    expect([h.metrics.recordsIn, h.metrics.recordsOut]).toEqual([6, 3]);
  });

  it('flatMap: zero or more outputs, each with the input timestamp', () => {
    const h = new OperatorTestHarness(
      () =>
        new FlatMapOperator<string, string>((line, out) => {
          for (const word of line.split(' ')) if (word !== '') out.collect(word);
        }),
    ).open();
    h.processElement('a b', 1).processElement('', 2).processElement('c', 3);
    expect(h.records()).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 3],
    ]);
    expect([h.metrics.recordsIn, h.metrics.recordsOut]).toEqual([3, 3]);
  });

  it('a watermark that does not advance is not forwarded; idleness is forwarded once per change', () => {
    const h = new OperatorTestHarness(() => new MapOperator<number, number>((n) => n)).open();
    h.processWatermark(10).processWatermark(10).processWatermark(7).processWatermark(11);
    h.processWatermarkStatus(true).processWatermarkStatus(true).processWatermarkStatus(false);
    expect(h.emitted).toEqual([
      { kind: 'watermark', timestamp: 10 },
      { kind: 'watermark', timestamp: 11 },
      { kind: 'status', isIdle: true },
      { kind: 'status', isIdle: false },
    ]);
  });

  it('stateless operators snapshot nothing', () => {
    const h = new OperatorTestHarness(() => new MapOperator<number, number>((n) => n)).open();
    h.processElement(1, 1);
    expect(h.snapshot()).toEqual({ keyed: undefined, operatorState: {} });
  });
});

describe('ProcessOperator', () => {
  const ODD = new OutputTag<number>('odd');

  it('emits main and side output with the record timestamp and sees the watermark', () => {
    const fn: ProcessFunction<number, string> = {
      processElement(value, context, out) {
        if (value % 2 === 1) context.output(ODD, value);
        else out.collect(`${value}@${context.timestamp}/wm${context.currentWatermark}`);
      },
    };
    const h = new OperatorTestHarness(() => new ProcessOperator<number, string>(fn)).open();
    h.processElement(1, 100).processWatermark(50).processElement(2, 101);
    expect(h.records()).toEqual([['2@101/wm50', 101]]);
    expect(h.sideOutput(ODD)).toEqual([[1, 100]]);
  });

  it('has no timers or key: the context explains', () => {
    const h = new OperatorTestHarness(
      () =>
        new ProcessOperator<number, never>({
          processElement(_value, context) {
            void (context as unknown as { currentKey: unknown }).currentKey;
          },
        }),
    ).open();
    expect(() => h.processElement(1, 1)).toThrow(/currentKey is only available on keyed streams/);
  });

  it('opens a per-instance function (runtime context of its subtask) and closes it', () => {
    const events: string[] = [];
    const shared = {
      subtask: -1,
      open(context: { subtask: number; parallelism: number; operatorUid: string }) {
        this.subtask = context.subtask;
        events.push(`open ${context.operatorUid} ${context.subtask}/${context.parallelism}`);
      },
      processElement(_value: number, _context: unknown, out: { collect(v: number): void }) {
        out.collect(this.subtask);
      },
      close() {
        events.push(`close ${this.subtask}`);
      },
    };
    const a = new OperatorTestHarness(() => new ProcessOperator<number, number>(shared), { uid: 'p', parallelism: 3, subtask: 1 }).open();
    const b = new OperatorTestHarness(() => new ProcessOperator<number, number>(shared), { uid: 'p', parallelism: 3, subtask: 2 }).open();
    a.processElement(0, 0);
    b.processElement(0, 0);
    a.close();
    b.close();
    expect(a.values()).toEqual([1]);
    expect(b.values()).toEqual([2]);
    expect(shared.subtask).toBe(-1);
    expect(events).toEqual(['open p 1/3', 'open p 2/3', 'close 1', 'close 2']);
  });
});

/** A sink that records what reaches its writers, with a flushed prefix as its checkpointed state. */
class RecordingSink implements Sink<string> {
  readonly log: string[] = [];
  readonly written: Array<[string, number]> = [];
  restoredState: readonly unknown[] | undefined;

  createWriter(context: { subtask: number; parallelism: number; operatorUid: string }): SinkWriter<string> {
    this.log.push(`create ${context.operatorUid} ${context.subtask}/${context.parallelism}`);
    const sink = this;
    let pending: string[] = [];
    return {
      async open(restored) {
        sink.restoredState = restored;
        sink.log.push(`open [${restored.join(',')}]`);
      },
      write(value, timestampMs) {
        pending.push(value);
        sink.written.push([value, timestampMs]);
      },
      waitUntilWritable() {
        return pending.length >= 2 ? Promise.resolve() : undefined;
      },
      async flush(isEndOfInput) {
        sink.log.push(`flush ${isEndOfInput} [${pending.join(',')}]`);
        pending = [];
      },
      snapshotState(checkpointId) {
        return [`cp${checkpointId}:${pending.join('+')}`];
      },
      async close() {
        sink.log.push('close');
      },
    };
  }

  describe(): string {
    return 'recording';
  }
}

describe('SinkOperator', () => {
  it('creates its writer in open() and writes records with their timestamps, emitting nothing', () => {
    const sink = new RecordingSink();
    const h = new OperatorTestHarness(() => new SinkOperator<string>(sink), { uid: 'out' }).open();
    expect(sink.log).toEqual(['create out 0/1']);
    h.processElement('a', 5);
    h.processElement('b', 6);
    expect(sink.written).toEqual([
      ['a', 5],
      ['b', 6],
    ]);
    expect(h.metrics.recordsIn).toBe(2);
    expect(h.emitted).toEqual([]);
  });

  it('drives the writer lifecycle through the operator hooks, and keeps writer state across a restore', async () => {
    const sink = new RecordingSink();
    const op = new SinkOperator<string>(sink);
    const h = new OperatorTestHarness(() => op, { uid: 'out' }).open();
    await op.openAsync();
    h.processElement('a', 1);
    expect(op.waitUntilReady()).toBeUndefined();
    h.processElement('b', 2);
    expect(op.waitUntilReady()).toBeInstanceOf(Promise);
    const snapshot = h.snapshot(7);
    expect(snapshot).toEqual({ keyed: undefined, operatorState: { 'sink-writer': ['cp7:a+b'] } });
    await op.finishAsync();
    h.close();
    await op.closeAsync();
    expect(sink.log).toEqual(['create out 0/1', 'open []', 'flush true [a,b]', 'close']);

    const restoredSink = new RecordingSink();
    const restoredOp = new SinkOperator<string>(restoredSink);
    new OperatorTestHarness(() => restoredOp, { uid: 'out' }).open(snapshot);
    await restoredOp.openAsync();
    expect(restoredSink.restoredState).toEqual(['cp7:a+b']);
  });
});
