import { describe, expect, it } from 'vitest';
import { OutputTag } from '../../src/core/output-tag.ts';
import type { AggregateFunction } from '../../src/state/descriptors.ts';
import { aggregateWindow } from '../../src/windows/process-window-function.ts';
import { TumblingEventTimeWindows } from '../../src/windows/tumbling-event-time-windows.ts';
import type { TimeWindow } from '../../src/windows/time-window.ts';
import { WindowOperator } from '../../src/windows/window-operator.ts';
import { OperatorTestHarness } from '../harness/operator-test-harness.ts';

/**
 * A restored operator starts from the watermark it had at the checkpoint: replayed records that were
 * late before a failure are late after it too, so a restored run gives a failure-free run's output.
 */
interface Reading {
  readonly key: string;
  readonly ts: number;
}

const LATE = new OutputTag<Reading>('late');

const count: AggregateFunction<Reading, number, number> = {
  createAccumulator: () => 0,
  add: (_reading, n) => n + 1,
  getResult: (n) => n,
  merge: (a, b) => a + b,
};

function windowOperator() {
  return new WindowOperator<Reading, number, string, TimeWindow>({
    keySelector: (reading) => reading.key,
    assigner: TumblingEventTimeWindows.of(100),
    lateDataTag: LATE,
    windowFunction: aggregateWindow(count),
  });
}

describe('watermarks survive snapshot ▶ restore', () => {
  it('a record late before the checkpoint is late after the restore, without the watermark being sent again', () => {
    const h = new OperatorTestHarness(windowOperator).open();
    h.processElement({ key: 'a', ts: 10 }, 10);
    h.processWatermark(150);
    expect(h.values()).toEqual([1]);
    const restored = h.snapshotAndRestore();
    restored.processElement({ key: 'a', ts: 20 }, 20);
    expect(restored.sideOutput(LATE)).toEqual([[{ key: 'a', ts: 20 }, 20]]);
    expect(restored.values()).toEqual([]);
  });

  it('restored at another parallelism, a subtask takes the minimum watermark of the old subtasks', () => {
    const first = new OperatorTestHarness(windowOperator, { parallelism: 2, subtask: 0, maxParallelism: 8 }).open();
    const second = new OperatorTestHarness(windowOperator, { parallelism: 2, subtask: 1, maxParallelism: 8 }).open();
    first.processWatermark(150);
    second.processWatermark(120);
    const merged = {
      keyed: undefined,
      operatorState: {
        'operator-watermarks': [
          ...(first.snapshot().operatorState['operator-watermarks'] ?? []),
          ...(second.snapshot().operatorState['operator-watermarks'] ?? []),
        ],
      },
      unionStateNames: ['operator-watermarks'],
    };
    const restored = new OperatorTestHarness(windowOperator, { parallelism: 1, maxParallelism: 8 }).open(merged);
    restored.processElement({ key: 'a', ts: 119 }, 119); // its window [100, 200) ends after 120: not late
    restored.processElement({ key: 'b', ts: 50 }, 50); // window [0, 100) ended at 99 ≤ 120: late
    expect(restored.sideOutput(LATE)).toEqual([[{ key: 'b', ts: 50 }, 50]]);
    restored.processWatermark(199);
    expect(restored.values()).toEqual([1]);
  });
});
