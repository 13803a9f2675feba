import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProcessJoinFunction } from '../../src/api/functions.ts';
import { OutputTag } from '../../src/core/output-tag.ts';
import { IntervalJoinOperator, type IntervalJoinOptions } from '../../src/operators/interval-join-operator.ts';
import type { OperatorSnapshot } from '../../src/operators/operator.ts';
import { OperatorTestHarness } from '../harness/operator-test-harness.ts';
import { assertRestoreAnywhereGivesSameOutput, scriptArbitrary } from './replay.ts';

interface Event {
  readonly key: string;
  readonly n: number;
}
const ev = (key: string, n: number): Event => ({ key, n });
const byKey = (e: Event): string => e.key;

const LEFT_LATE = new OutputTag<Event>('left-late');
const RIGHT_LATE = new OutputTag<Event>('right-late');
const LEFT_UNMATCHED = new OutputTag<Event>('left-unmatched');
const RIGHT_UNMATCHED = new OutputTag<Event>('right-unmatched');

/** Emits `L<n>@<leftTs>+R<n>@<rightTs>` for each pair. */
const describePair: ProcessJoinFunction<Event, Event, string> = {
  processElement(left, right, context, out) {
    out.collect(`${left.key}:L${left.n}@${context.leftTimestamp}+R${right.n}@${context.rightTimestamp}`);
  },
};

function joinOperator(overrides: Partial<IntervalJoinOptions<Event, Event>> = {}) {
  const options: IntervalJoinOptions<Event, Event> = {
    leftKeySelector: byKey,
    rightKeySelector: byKey,
    lowerBoundMs: -5,
    upperBoundMs: 10,
    isLowerBoundInclusive: true,
    isUpperBoundInclusive: true,
    leftLateTag: undefined,
    rightLateTag: undefined,
    leftUnmatchedTag: undefined,
    rightUnmatchedTag: undefined,
    ...overrides,
  };
  return () => new IntervalJoinOperator<Event, Event, string>(options, describePair);
}

function harness(overrides: Partial<IntervalJoinOptions<Event, Event>> = {}): OperatorTestHarness<string> {
  return new OperatorTestHarness<string>(joinOperator(overrides)).open();
}

function bothWatermarks(h: OperatorTestHarness<string>, watermarkMs: number): void {
  h.processWatermark(watermarkMs, 0).processWatermark(watermarkMs, 1);
}

/** Number of state entries and timers in a snapshot's keyed state. */
function keyedStateSize(snapshot: OperatorSnapshot): { entries: number; timers: number } {
  let entries = 0;
  let timers = 0;
  for (const group of snapshot.keyed?.keyGroups ?? []) {
    for (const state of group.states) entries += state.entries.length;
    for (const queue of group.timerQueues) timers += queue.timers.length;
  }
  return { entries, timers };
}

/** Brute-force reference: every pair of equal keys with left.ts + lower ≤ right.ts ≤ left.ts + upper. */
function referencePairs(
  lefts: ReadonlyArray<[Event, number]>,
  rights: ReadonlyArray<[Event, number]>,
  lower: number,
  upper: number,
): Array<[string, number]> {
  const pairs: Array<[string, number]> = [];
  for (const [l, lts] of lefts) {
    for (const [r, rts] of rights) {
      if (l.key === r.key && rts >= lts + lower && rts <= lts + upper) {
        pairs.push([`${l.key}:L${l.n}@${lts}+R${r.n}@${rts}`, Math.max(lts, rts)]);
      }
    }
  }
  return pairs;
}

const sortPairs = (pairs: Array<[unknown, number]>): string[] => pairs.map((p) => JSON.stringify(p)).sort();

describe('IntervalJoinOperator', () => {
  it('joins within [left.ts + lower, left.ts + upper], inclusive, emitting pairs with the max timestamp', () => {
    const h = harness();
    h.processElement(ev('a', 1), 100, 0);
    h.processElement(ev('a', 2), 94, 1); // 100 − 5 − 1: outside
    h.processElement(ev('a', 3), 95, 1); // lower bound: inside
    h.processElement(ev('a', 4), 110, 1); // upper bound: inside
    h.processElement(ev('a', 5), 111, 1); // outside
    h.processElement(ev('b', 6), 100, 1); // other key
    expect(h.records()).toEqual([
      ['a:L1@100+R3@95', 100],
      ['a:L1@100+R4@110', 110],
    ]);
    // A left arriving after the rights joins the buffered ones (right before left in arrival order).
    h.processElement(ev('a', 7), 105, 0);
    expect(h.records().slice(2)).toEqual([
      ['a:L7@105+R4@110', 110],
      ['a:L7@105+R5@111', 111],
    ]);
  });

  it('exclusive bounds exclude exactly the bound', () => {
    const h = harness({ isLowerBoundInclusive: false, isUpperBoundInclusive: false });
    h.processElement(ev('a', 1), 100, 0);
    for (const ts of [95, 96, 109, 110]) h.processElement(ev('a', ts), ts, 1);
    expect(h.values()).toEqual(['a:L1@100+R96@96', 'a:L1@100+R109@109']);
  });

  it('a negative-only interval (right strictly before left) works', () => {
    const h = harness({ lowerBoundMs: -10, upperBoundMs: -2 });
    h.processElement(ev('a', 1), 89, 1);
    h.processElement(ev('a', 2), 90, 1);
    h.processElement(ev('a', 3), 98, 1);
    h.processElement(ev('a', 4), 99, 1);
    h.processElement(ev('a', 5), 100, 0);
    expect(h.records()).toEqual([
      ['a:L5@100+R2@90', 100],
      ['a:L5@100+R3@98', 100],
    ]);
  });

  it('repeated keys and equal timestamps: every pair once', () => {
    const h = harness({ lowerBoundMs: 0, upperBoundMs: 0 });
    h.processElement(ev('a', 1), 10, 0).processElement(ev('a', 2), 10, 0);
    h.processElement(ev('a', 3), 10, 1).processElement(ev('a', 4), 10, 1);
    expect(h.values().sort()).toEqual(['a:L1@10+R3@10', 'a:L1@10+R4@10', 'a:L2@10+R3@10', 'a:L2@10+R4@10']);
  });

  it('late records (ts ≤ watermark) go to the late tags, or are counted as dropped', () => {
    const tagged = harness({ leftLateTag: LEFT_LATE, rightLateTag: RIGHT_LATE });
    bothWatermarks(tagged, 50);
    tagged.processElement(ev('a', 1), 50, 0).processElement(ev('a', 2), 49, 1).processElement(ev('a', 3), 51, 0);
    expect(tagged.sideOutput(LEFT_LATE)).toEqual([[ev('a', 1), 50]]);
    expect(tagged.sideOutput(RIGHT_LATE)).toEqual([[ev('a', 2), 49]]);
    expect(tagged.metrics.lateRecordsSideOutput).toBe(2);
    expect(tagged.metrics.lateRecordsDropped).toBe(0);
    // The late right did not join the later left (51 − 5 ≤ 49).
    expect(tagged.values()).toEqual([]);

    const untagged = harness();
    bothWatermarks(untagged, 50);
    untagged.processElement(ev('a', 1), 50, 0).processElement(ev('a', 2), 49, 1);
    expect(untagged.emitted.filter((e) => e.kind === 'side')).toEqual([]);
    expect(untagged.metrics.lateRecordsDropped).toBe(2);
  });

  it('a record is late by the operator watermark, i.e. the min of both inputs', () => {
    const h = harness({ leftLateTag: LEFT_LATE });
    h.processWatermark(100, 0); // input 1 still at MIN: the operator watermark has not moved
    h.processElement(ev('a', 1), 60, 0);
    expect(h.sideOutput(LEFT_LATE)).toEqual([]);
    h.processWatermark(70, 1);
    h.processElement(ev('a', 2), 70, 0);
    expect(h.sideOutput(LEFT_LATE)).toEqual([[ev('a', 2), 70]]);
  });

  it('unmatched left records are emitted exactly when the watermark reaches left.ts + upper', () => {
    const h = harness({ leftUnmatchedTag: LEFT_UNMATCHED, rightUnmatchedTag: RIGHT_UNMATCHED });
    h.processElement(ev('a', 1), 100, 0);
    h.processElement(ev('a', 2), 100, 0);
    h.processElement(ev('b', 3), 100, 0);
    h.processElement(ev('b', 4), 108, 1); // joins b3; b3 is matched
    bothWatermarks(h, 109);
    expect(h.sideOutput(LEFT_UNMATCHED)).toEqual([]);
    bothWatermarks(h, 110);
    expect(h.sideOutput(LEFT_UNMATCHED)).toEqual([
      [ev('a', 1), 100],
      [ev('a', 2), 100],
    ]);
    expect(h.sideOutput(RIGHT_UNMATCHED)).toEqual([]);
  });

  it('unmatched right records are emitted exactly when the watermark reaches right.ts − lower', () => {
    const h = harness({ leftUnmatchedTag: LEFT_UNMATCHED, rightUnmatchedTag: RIGHT_UNMATCHED });
    h.processElement(ev('a', 1), 100, 1);
    h.processElement(ev('b', 2), 100, 1);
    bothWatermarks(h, 104);
    h.processElement(ev('b', 3), 105, 0); // right b2@100 = 105 − 5: joins
    expect(h.values()).toEqual(['b:L3@105+R2@100']);
    expect(h.sideOutput(RIGHT_UNMATCHED)).toEqual([]);
    bothWatermarks(h, 105);
    expect(h.sideOutput(RIGHT_UNMATCHED)).toEqual([[ev('a', 1), 100]]);
    bothWatermarks(h, 1_000);
    expect(h.sideOutput(LEFT_UNMATCHED)).toEqual([]);
    expect(h.sideOutput(RIGHT_UNMATCHED)).toEqual([[ev('a', 1), 100]]);
  });

  it('cleans up all buffered state and timers once the watermark passes every record', () => {
    const h = harness({ leftUnmatchedTag: LEFT_UNMATCHED, rightUnmatchedTag: RIGHT_UNMATCHED });
    for (let i = 0; i < 20; i++) h.processElement(ev(`k${i % 4}`, i), 100 + i, i % 2);
    expect(keyedStateSize(h.snapshot()).entries).toBeGreaterThan(0);
    bothWatermarks(h, 200);
    expect(keyedStateSize(h.snapshot())).toEqual({ entries: 0, timers: 0 });
    // And a record arriving afterwards joins nothing that was cleaned up.
    h.clearOutput();
    h.processElement(ev('k0', 99), 205, 1);
    expect(h.values()).toEqual([]);
  });

  it('cleanup never drops a partner that could still join (any bounds, any order)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -20, max: 20 }),
        fc.integer({ min: 0, max: 20 }),
        fc.array(fc.record({ ts: fc.integer({ min: 0, max: 60 }), input: fc.integer({ min: 0, max: 1 }), key: fc.constantFrom('a', 'b') }), {
          maxLength: 30,
        }),
        (lower, width, events) => {
          const upper = lower + width;
          // Feed in timestamp order with a watermark of ts − 1 before each record: nothing is late,
          // but buffers are expired as early as the operator dares.
          const sorted = events.map((e, n) => ({ ...e, n })).sort((x, y) => x.ts - y.ts || x.n - y.n);
          const h = harness({ lowerBoundMs: lower, upperBoundMs: upper });
          const lefts: Array<[Event, number]> = [];
          const rights: Array<[Event, number]> = [];
          for (const e of sorted) {
            bothWatermarks(h, e.ts - 1);
            h.processElement(ev(e.key, e.n), e.ts, e.input);
            (e.input === 0 ? lefts : rights).push([ev(e.key, e.n), e.ts]);
          }
          expect(sortPairs(h.records())).toEqual(sortPairs(referencePairs(lefts, rights, lower, upper)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('gives each operator instance its own join function instance', () => {
    const shared = {
      pairs: 0,
      open() {
        this.pairs = 0;
      },
      processElement(_l: Event, _r: Event, _c: unknown, out: { collect(v: number): void }) {
        out.collect(++this.pairs);
      },
    };
    const create = () =>
      new IntervalJoinOperator<Event, Event, number>(
        {
          leftKeySelector: byKey,
          rightKeySelector: byKey,
          lowerBoundMs: 0,
          upperBoundMs: 0,
          isLowerBoundInclusive: true,
          isUpperBoundInclusive: true,
          leftLateTag: undefined,
          rightLateTag: undefined,
          leftUnmatchedTag: undefined,
          rightUnmatchedTag: undefined,
        },
        shared,
      );
    const a = new OperatorTestHarness(create).open();
    const b = new OperatorTestHarness(create).open();
    a.processElement(ev('a', 1), 1, 0).processElement(ev('a', 2), 1, 1).processElement(ev('a', 3), 1, 1);
    b.processElement(ev('a', 1), 1, 0).processElement(ev('a', 2), 1, 1);
    expect(a.values()).toEqual([1, 2]);
    expect(b.values()).toEqual([1]);
    expect(shared.pairs).toBe(0);
  });

  it('rejects records without a timestamp with an explanation', () => {
    const h = harness();
    expect(() => h.processElement(ev('a', 1), Number.NaN, 0)).toThrow(/interval join needs event time/);
  });

  it('buffers, matched flags and timers survive snapshot ▶ restore', () => {
    let h = harness({ leftUnmatchedTag: LEFT_UNMATCHED, rightUnmatchedTag: RIGHT_UNMATCHED });
    h.processElement(ev('a', 1), 100, 0);
    h.processElement(ev('a', 2), 100, 0);
    h.processElement(ev('a', 3), 104, 1); // joins both lefts
    h.processElement(ev('a', 4), 300, 1);
    h = h.snapshotAndRestore();
    h.processElement(ev('a', 5), 99, 1); // joins both restored lefts
    expect(h.values()).toEqual(['a:L1@100+R5@99', 'a:L2@100+R5@99']);
    bothWatermarks(h, 1_000);
    expect(h.sideOutput(LEFT_UNMATCHED)).toEqual([]);
    expect(h.sideOutput(RIGHT_UNMATCHED)).toEqual([[ev('a', 4), 300]]);
  });

  it('property: a snapshot ▶ restore at any point gives the same output as an uninterrupted run', () => {
    assertRestoreAnywhereGivesSameOutput(
      joinOperator({
        leftLateTag: LEFT_LATE,
        rightLateTag: RIGHT_LATE,
        leftUnmatchedTag: LEFT_UNMATCHED,
        rightUnmatchedTag: RIGHT_UNMATCHED,
      }) as () => IntervalJoinOperator<unknown, unknown, unknown>,
      scriptArbitrary({ keys: ['a', 'b'], maxTs: 60, numInputs: 2 }),
      { numInputs: 2 },
    );
  });
});
