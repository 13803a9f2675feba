import type fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  broadcastState,
  type BroadcastProcessFunction,
  type KeyedBroadcastProcessFunction,
} from '../../src/api/functions.ts';
import { OutputTag } from '../../src/core/output-tag.ts';
import { BroadcastProcessOperator } from '../../src/operators/broadcast-process-operator.ts';
import type { OperatorSnapshot } from '../../src/operators/operator.ts';
import { valueState } from '../../src/state/descriptors.ts';
import type { ValueState } from '../../src/state/state.ts';
import { OperatorTestHarness } from '../harness/operator-test-harness.ts';
import { assertRestoreAnywhereGivesSameOutput, scriptArbitrary, type Step } from './replay.ts';

interface Event {
  readonly key: string;
  readonly n: number;
}
/** Broadcast rule: multiply records of `key` by `factor` (factor 0 removes the rule). */
interface Rule {
  readonly key: string;
  readonly factor: number;
}
const ev = (key: string, n: number): Event => ({ key, n });
const byKey = (e: Event): string => e.key;

const RULES = broadcastState<string, number>('rules');
const UNRULED = new OutputTag<Event>('unruled');
const SEEN = valueState<number>('seen', { defaultValue: 0 });

/** Keyed: applies the rule of the record's key (if any), counting records per key in keyed state. */
const keyedRules: KeyedBroadcastProcessFunction<string, Event, Rule, string> = {
  processElement(value, context, out) {
    const factor = context.getBroadcastState(RULES).get(value.key);
    if (factor === undefined) {
      context.output(UNRULED, value);
      return;
    }
    out.collect(`${context.currentKey}:${value.n * factor}`);
  },
  processBroadcastElement(rule, context, out) {
    const rules = context.getBroadcastState(RULES);
    if (rule.factor === 0) rules.remove(rule.key);
    else rules.put(rule.key, rule.factor);
    out.collect(`rules:${JSON.stringify(rules.entries().sort())}`);
  },
};

/** Non-keyed: the same, without keys. */
const plainRules: BroadcastProcessFunction<Event, Rule, string> = {
  processElement(value, context, out) {
    const factor = context.getBroadcastState(RULES).get(value.key);
    out.collect(factor === undefined ? `none:${value.n}` : `${value.key}:${value.n * factor}`);
  },
  processBroadcastElement(rule, context) {
    const rules = context.getBroadcastState(RULES);
    if (rule.factor === 0) rules.remove(rule.key);
    else rules.put(rule.key, rule.factor);
  },
};

const keyedOperator = () => new BroadcastProcessOperator<string, Event, Rule, string>(byKey, keyedRules);
const plainOperator = () => new BroadcastProcessOperator<string, Event, Rule, string>(undefined, plainRules);

/** Merges subtasks' snapshots as a restore does: operator-state lists concatenated by name. */
function mergeOperatorState(snapshots: readonly OperatorSnapshot[]): OperatorSnapshot {
  const operatorState: Record<string, unknown[]> = {};
  for (const snapshot of snapshots) {
    for (const [name, list] of Object.entries(snapshot.operatorState)) (operatorState[name] ??= []).push(...list);
  }
  return { keyed: undefined, operatorState, unionStateNames: snapshots[0]?.unionStateNames ?? [] };
}

describe('BroadcastProcessOperator (keyed)', () => {
  it('broadcast state written by the broadcast side is visible to the keyed side', () => {
    const h = new OperatorTestHarness(keyedOperator).open();
    h.processElement(ev('a', 2), 1, 0);
    h.processElement({ key: 'a', factor: 10 }, 2, 1);
    h.processElement(ev('a', 3), 3, 0).processElement(ev('b', 4), 4, 0);
    h.processElement({ key: 'a', factor: 0 }, 5, 1);
    h.processElement(ev('a', 5), 6, 0);
    expect(h.records()).toEqual([
      ['rules:[["a",10]]', 2],
      ['a:30', 3],
      ['rules:[]', 5],
    ]);
    expect(h.sideOutput(UNRULED)).toEqual([
      [ev('a', 2), 1],
      [ev('b', 4), 4],
      [ev('a', 5), 6],
    ]);
  });

  it('has keyed state and timers on the keyed side', () => {
    interface Counting extends KeyedBroadcastProcessFunction<string, Event, Rule, string> {
      seen: ValueState<number>;
    }
    const counting: Counting = {
      seen: undefined as unknown as ValueState<number>,
      open(context) {
        this.seen = context.getValueState(SEEN);
      },
      processElement(value, context, out) {
        this.seen.update(this.seen.value()! + 1);
        out.collect(`${value.key}#${this.seen.value()}`);
        context.timerService.registerEventTimeTimer(context.timestamp + 1);
      },
      processBroadcastElement() {},
      onTimer(ts, context, out) {
        out.collect(`timer ${context.currentKey}@${ts}`);
      },
    };
    const h = new OperatorTestHarness(() => new BroadcastProcessOperator<string, Event, Rule, string>(byKey, counting)).open();
    h.processElement(ev('a', 1), 10, 0).processElement(ev('a', 1), 12, 0).processElement(ev('b', 1), 11, 0);
    h.processWatermark(20, 0);
    expect(h.values()).toEqual(['a#1', 'a#2', 'b#1']);
    h.processWatermark(20, 1);
    expect(h.values()).toEqual(['a#1', 'a#2', 'b#1', 'timer a@11', 'timer b@12', 'timer a@13']);
  });

  it('broadcast state and keyed state survive snapshot ▶ restore, and the snapshot marks broadcast state as union state', () => {
    let h = new OperatorTestHarness(keyedOperator).open();
    h.processElement({ key: 'a', factor: 2 }, 1, 1).processElement({ key: 'b', factor: 3 }, 1, 1);
    const snapshot = h.snapshot();
    expect(snapshot.unionStateNames).toEqual(Object.keys(snapshot.operatorState));
    // The broadcast state and the keyed operator's watermarks.
    expect(Object.keys(snapshot.operatorState).sort()).toEqual(['broadcast:rules', 'operator-watermarks']);
    h = h.snapshotAndRestore();
    h.processElement(ev('a', 5), 2, 0).processElement(ev('b', 5), 3, 0);
    expect(h.values()).toEqual(['a:10', 'b:15']);
  });

  it('restores from two subtasks\' union state (each a full copy): one entry per broadcast key', () => {
    const subtasks = [0, 1].map((subtask) => {
      const h = new OperatorTestHarness(keyedOperator, { parallelism: 2, subtask }).open();
      h.processElement({ key: 'a', factor: 2 }, 1, 1).processElement({ key: 'b', factor: 3 }, 1, 1);
      return h.snapshot();
    });
    const restored = new OperatorTestHarness(keyedOperator).open(mergeOperatorState(subtasks));
    restored.processElement({ key: 'c', factor: 4 }, 2, 1);
    expect(restored.values()).toEqual(['rules:[["a",2],["b",3],["c",4]]']);
  });
});

describe('BroadcastProcessOperator: regressions', () => {
  it('onTimer of a keyed broadcast function reads broadcast state (as in Flink)', () => {
    const decideOnTimer: KeyedBroadcastProcessFunction<string, Event, Rule, string> = {
      processElement(_value, context) {
        context.timerService.registerEventTimeTimer(context.timestamp);
      },
      processBroadcastElement(rule, context) {
        context.getBroadcastState(RULES).put(rule.key, rule.factor);
      },
      onTimer(ts, context, out) {
        out.collect(`${context.currentKey}@${ts}=${context.getBroadcastState(RULES).get(context.currentKey) ?? 'none'}/${context.timeDomain}`);
      },
    };
    const h = new OperatorTestHarness(() => new BroadcastProcessOperator<string, Event, Rule, string>(byKey, decideOnTimer)).open();
    h.processElement(ev('a', 1), 10, 0).processElement(ev('b', 1), 10, 0);
    h.processElement({ key: 'a', factor: 7 }, 5, 1);
    h.processWatermark(10, 0).processWatermark(10, 1);
    expect(h.values().sort()).toEqual(['a@10=7/event-time', 'b@10=none/event-time']);
  });

  it('restored broadcast state survives a second checkpoint taken before anything accessed it', () => {
    let h = new OperatorTestHarness(plainOperator).open();
    h.processElement({ key: 'a', factor: 3 }, 1, 1);
    h = h.snapshotAndRestore(1);
    h = h.snapshotAndRestore(2);
    h.processElement(ev('a', 2), 2, 0);
    expect(h.values()).toEqual(['a:6']);
  });
});

describe('BroadcastProcessOperator (non-keyed)', () => {
  it('applies broadcast state to the regular input, without keys', () => {
    const h = new OperatorTestHarness(plainOperator).open();
    h.processElement(ev('a', 2), 1, 0);
    h.processElement({ key: 'a', factor: 10 }, 2, 1);
    h.processElement(ev('a', 3), 3, 0);
    expect(h.records()).toEqual([
      ['none:2', 1],
      ['a:30', 3],
    ]);
    expect(h.snapshot().keyed).toBeUndefined();
  });

  it('has no timers or current key on the regular side', () => {
    const touchesTimers: BroadcastProcessFunction<Event, Rule, string> = {
      processElement(_value, context) {
        void (context as unknown as { timerService: unknown }).timerService;
      },
      processBroadcastElement() {},
    };
    const h = new OperatorTestHarness(() => new BroadcastProcessOperator<string, Event, Rule, string>(undefined, touchesTimers)).open();
    expect(() => h.processElement(ev('a', 1), 1, 0)).toThrow(/timers are only available on keyed streams/);
  });

  it('restores from two subtasks\' union state', () => {
    const subtasks = [0, 1].map((subtask) => {
      const h = new OperatorTestHarness(plainOperator, { parallelism: 2, subtask }).open();
      h.processElement({ key: 'a', factor: 7 }, 1, 1);
      return h.snapshot();
    });
    const restored = new OperatorTestHarness(plainOperator, { parallelism: 3, subtask: 2 }).open(mergeOperatorState(subtasks));
    restored.processElement(ev('a', 2), 2, 0);
    expect(restored.values()).toEqual(['a:14']);
  });

  it('watermark is the min of the regular and the broadcast input', () => {
    const h = new OperatorTestHarness(plainOperator).open();
    h.processWatermark(10, 0);
    h.processWatermark(5, 1);
    h.processWatermark(20, 1);
    expect(h.watermarks()).toEqual([5, 10]);
  });
});

describe('BroadcastProcessOperator: restore anywhere', () => {
  /** Records on input 0; rules on input 1 (factor from the record's n, 0 ⇒ remove). */
  const script: fc.Arbitrary<readonly Step[]> = scriptArbitrary({ keys: ['a', 'b', 'c'], maxTs: 50, numInputs: 2 }).map((steps) =>
    steps.map((step): Step => {
      if (step.kind !== 'record' || step.input !== 1) return step;
      const { key, n } = step.value as Event;
      return { ...step, value: { key, factor: n % 4 } };
    }),
  );

  it('property (keyed): a snapshot ▶ restore at any point gives the same output as an uninterrupted run', () => {
    assertRestoreAnywhereGivesSameOutput(keyedOperator, script, { numInputs: 2 });
  });

  it('property (non-keyed): a snapshot ▶ restore at any point gives the same output as an uninterrupted run', () => {
    assertRestoreAnywhereGivesSameOutput(plainOperator, script, { numInputs: 2 });
  });
});
