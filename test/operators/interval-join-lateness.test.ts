import { describe, expect, it } from 'vitest';
import type { Collector } from '../../src/core/collector.ts';
import { OutputTag } from '../../src/core/output-tag.ts';
import { IntervalJoinOperator } from '../../src/operators/interval-join-operator.ts';
import { OperatorTestHarness } from '../harness/operator-test-harness.ts';

interface Event {
  readonly id: string;
  readonly ts: number;
}

const LEFT_LATE = new OutputTag<Event>('left-late');
const RIGHT_LATE = new OutputTag<Event>('right-late');
const UNMATCHED = new OutputTag<Event>('unmatched');

function harness(allowedLatenessMs: number): OperatorTestHarness<string> {
  return new OperatorTestHarness<string>(
    () =>
      new IntervalJoinOperator<Event, Event, string>(
        {
          leftKeySelector: (e) => e.id,
          rightKeySelector: (e) => e.id,
          lowerBoundMs: 0,
          upperBoundMs: 100,
          isLowerBoundInclusive: true,
          isUpperBoundInclusive: true,
          allowedLatenessMs,
          leftLateTag: LEFT_LATE,
          rightLateTag: RIGHT_LATE,
          leftUnmatchedTag: UNMATCHED,
          rightUnmatchedTag: undefined,
        },
        {
          processElement(left: Event, right: Event, _context: unknown, out: Collector<string>) {
            out.collect(`${left.ts}-${right.ts}`);
          },
        },
      ),
  ).open();
}

describe('IntervalJoinOperator with allowed lateness', () => {
  it('without lateness, a partner behind the watermark is late and the left record is unmatched', () => {
    const h = harness(0);
    h.processElement({ id: 'a', ts: 1_000 }, 1_000, 0);
    h.processWatermark(1_050, 0).processWatermark(1_050, 1);
    h.processElement({ id: 'a', ts: 1_040 }, 1_040, 1);
    expect(h.sideOutput(RIGHT_LATE)).toEqual([[{ id: 'a', ts: 1_040 }, 1_040]]);
    h.processWatermark(1_100, 0).processWatermark(1_100, 1);
    expect(h.values()).toEqual([]);
    expect(h.sideOutput(UNMATCHED)).toEqual([[{ id: 'a', ts: 1_000 }, 1_000]]);
  });

  it('a partner within the allowed lateness still joins, and unmatched records wait for the lateness too', () => {
    const h = harness(30);
    h.processElement({ id: 'a', ts: 1_000 }, 1_000, 0);
    h.processElement({ id: 'b', ts: 1_000 }, 1_000, 0);
    h.processWatermark(1_050, 0).processWatermark(1_050, 1);
    // 1_040 + 30 > 1_050: not late.
    h.processElement({ id: 'a', ts: 1_040 }, 1_040, 1);
    expect(h.values()).toEqual(['1000-1040']);
    // 1_019 + 30 ≤ 1_050: late even with the allowance.
    h.processElement({ id: 'b', ts: 1_019 }, 1_019, 1);
    expect(h.sideOutput(RIGHT_LATE)).toEqual([[{ id: 'b', ts: 1_019 }, 1_019]]);
    // The unmatched 'b' is reported only once the watermark passes 1_000 + 100 + 30.
    h.processWatermark(1_129, 0).processWatermark(1_129, 1);
    expect(h.sideOutput(UNMATCHED)).toEqual([]);
    h.processWatermark(1_130, 0).processWatermark(1_130, 1);
    expect(h.sideOutput(UNMATCHED)).toEqual([[{ id: 'b', ts: 1_000 }, 1_000]]);
  });
});
