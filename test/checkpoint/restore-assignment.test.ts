import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_FORMAT, type CheckpointMetadata, type OperatorStateMetadata } from '../../src/checkpoint/checkpoint-metadata.ts';
import type { OperatorSnapshot } from '../../src/checkpoint/checkpoint-storage.ts';
import {
  checkRestoreCompatibility,
  oldSubtasksFor,
  redistributeSnapshots,
  type RestoreTarget,
} from '../../src/checkpoint/restore-assignment.ts';
import { computeKeyGroupRangeForOperatorIndex, computeOperatorIndexForKeyGroup } from '../../src/core/key-group.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import type { KeyGroupSnapshot } from '../../src/state/keyed-state-backend.ts';

/** maxParallelism M, old parallelism p ≤ M, new parallelism p' ≤ M. */
const rescale = fc
  .integer({ min: 1, max: 200 })
  .chain((maxParallelism) =>
    fc.record({
      maxParallelism: fc.constant(maxParallelism),
      oldParallelism: fc.integer({ min: 1, max: Math.min(maxParallelism, 24) }),
      newParallelism: fc.integer({ min: 1, max: Math.min(maxParallelism, 24) }),
    }),
  );

function keyGroupSnapshot(keyGroup: number): KeyGroupSnapshot {
  return { keyGroup, states: [{ name: 'count', kind: 'value', version: 0, entries: [[`key-${keyGroup}`, 0, keyGroup]] }], timerQueues: [] };
}

/** Handles of an operator: keyed state files when `isKeyed`, operator state files when `hasOperatorState` (default: non-keyed). */
function operatorMetadata(
  uid: string,
  parallelism: number,
  maxParallelism: number,
  isKeyed: boolean,
  hasOperatorState = !isKeyed,
): OperatorStateMetadata {
  const file = (name: string): { file: string; bytes: number; sha256: string } => ({ file: name, bytes: 1, sha256: '0'.repeat(64) });
  return {
    uid,
    name: uid,
    kind: 'process',
    parallelism,
    maxParallelism,
    subtasks: Array.from({ length: parallelism }, (_, subtask) => {
      const range = computeKeyGroupRangeForOperatorIndex(maxParallelism, parallelism, subtask);
      return {
        subtask,
        keyGroupRange: isKeyed ? ([range.start, range.end] as const) : ([0, 0] as const),
        isFinished: false,
        ...(hasOperatorState ? { operatorState: file(`${uid}/subtask-${subtask}.operator`) } : {}),
        ...(isKeyed ? { keyed: { kind: 'canonical' as const, ...file(`${uid}/subtask-${subtask}.keyed`) } } : {}),
      };
    }),
  };
}

/** What the coordinator does for new subtask `subtask`: read the old subtasks it needs, then combine them. */
function restoreSubtask(
  operator: OperatorStateMetadata,
  oldSnapshots: readonly OperatorSnapshot[],
  subtask: number,
  parallelism: number,
): OperatorSnapshot {
  const needed = oldSubtasksFor(operator, subtask, parallelism);
  const olds = [...new Set([...needed.operatorState, ...needed.keyed])];
  return redistributeSnapshots(
    olds.map((old) => {
      const whole = oldSnapshots[old]!;
      // As the executor reads them: each part only from the old subtasks that part needs.
      const snapshot: OperatorSnapshot = needed.keyed.includes(old) ? whole : { ...whole, keyed: undefined };
      return { subtask: old, snapshot: needed.operatorState.includes(old) ? snapshot : { keyed: snapshot.keyed, operatorState: {} } };
    }),
    subtask,
    parallelism,
    operator.maxParallelism,
  );
}

describe('redistributeSnapshots: keyed state', () => {
  it('puts every key group exactly once, in the new subtask that owns it (property over M, p, p′)', () => {
    fc.assert(
      fc.property(rescale, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), ({ maxParallelism, oldParallelism, newParallelism }, density, seed) => {
        const operator = operatorMetadata('counts', oldParallelism, maxParallelism, true);
        // Some key groups are empty (omitted from snapshots), as with real backends.
        const present = new Set<number>();
        const oldSnapshots = operator.subtasks.map((handle): OperatorSnapshot => {
          const keyGroups: KeyGroupSnapshot[] = [];
          for (let keyGroup = handle.keyGroupRange[0]; keyGroup < handle.keyGroupRange[1]; keyGroup++) {
            if (((keyGroup * 2654435761 + seed) >>> 0) / 2 ** 32 < density) {
              keyGroups.push(keyGroupSnapshot(keyGroup));
              present.add(keyGroup);
            }
          }
          return { keyed: { format: 'eddy-keyed-state/1', maxParallelism, keyGroups }, operatorState: {} };
        });

        const seen = new Map<number, number>();
        for (let subtask = 0; subtask < newParallelism; subtask++) {
          const restored = restoreSubtask(operator, oldSnapshots, subtask, newParallelism);
          expect(restored.keyed?.maxParallelism).toBe(maxParallelism);
          const groups = restored.keyed!.keyGroups.map((group) => group.keyGroup);
          expect(groups).toEqual([...groups].sort((a, b) => a - b));
          for (const group of restored.keyed!.keyGroups) {
            expect(seen.has(group.keyGroup)).toBe(false);
            seen.set(group.keyGroup, subtask);
            expect(computeOperatorIndexForKeyGroup(maxParallelism, newParallelism, group.keyGroup)).toBe(subtask);
            expect(group).toEqual(keyGroupSnapshot(group.keyGroup));
          }
        }
        expect([...seen.keys()].sort((a, b) => a - b)).toEqual([...present].sort((a, b) => a - b));
      }),
      { numRuns: 300 },
    );
  });

  it('reads only the old subtasks whose key groups overlap, and only its own at the same parallelism', () => {
    const operator = operatorMetadata('counts', 4, 128, true);
    expect(oldSubtasksFor(operator, 2, 4)).toEqual({ keyed: [2], operatorState: [] });
    expect(oldSubtasksFor(operator, 0, 2)).toEqual({ keyed: [0, 1], operatorState: [] });
    expect(oldSubtasksFor(operator, 1, 3)).toEqual({ keyed: [1, 2], operatorState: [] });
    expect(oldSubtasksFor(operator, 0, 1)).toEqual({ keyed: [0, 1, 2, 3], operatorState: [] });
    fc.assert(
      fc.property(rescale, ({ maxParallelism, oldParallelism, newParallelism }) => {
        const keyed = operatorMetadata('k', oldParallelism, maxParallelism, true);
        for (let subtask = 0; subtask < newParallelism; subtask++) {
          const range = computeKeyGroupRangeForOperatorIndex(maxParallelism, newParallelism, subtask);
          const expected = keyed.subtasks
            .filter((h) => h.keyGroupRange[0] < range.end && range.start < h.keyGroupRange[1])
            .map((h) => h.subtask);
          expect(oldSubtasksFor(keyed, subtask, newParallelism).keyed).toEqual(expected);
          expect(expected.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it('refuses keyed state taken with another maxParallelism, and overlapping old snapshots', () => {
    const old = { subtask: 0, snapshot: { keyed: { format: 'eddy-keyed-state/1' as const, maxParallelism: 64, keyGroups: [] }, operatorState: {} } };
    expect(() => redistributeSnapshots([old], 0, 1, 128)).toThrow(ConfigurationError);
    expect(() => redistributeSnapshots([old], 0, 1, 128)).toThrow(/maxParallelism 64 but the job now has 128/);
    const twice = (subtask: number) => ({
      subtask,
      snapshot: { keyed: { format: 'eddy-keyed-state/1' as const, maxParallelism: 8, keyGroups: [keyGroupSnapshot(3)] }, operatorState: {} },
    });
    expect(() => redistributeSnapshots([twice(0), twice(1)], 0, 1, 8)).toThrow(/key group 3 is in the snapshots of both old subtasks 0 and 1/);
  });

  it('rejects a subtask or parallelism out of range', () => {
    expect(() => redistributeSnapshots([], 2, 2, 8)).toThrow(/subtask must be a whole number in \[0, 2\), got 2/);
    expect(() => redistributeSnapshots([], 0, 9, 8)).toThrow(/parallelism must be a whole number in \[1, maxParallelism=8\], got 9/);
    expect(() => oldSubtasksFor(operatorMetadata('x', 2, 8, true), 0, 0)).toThrow(ConfigurationError);
  });
});

describe('redistributeSnapshots: operator state', () => {
  const lists = fc.array(fc.dictionary(fc.constantFrom('splits', 'pending', 'offsets'), fc.array(fc.integer(), { maxLength: 6 })), {
    minLength: 1,
    maxLength: 8,
  });

  it('keeps every element of non-union lists exactly once, dealt round-robin in old-subtask order (property)', () => {
    fc.assert(
      fc.property(lists, fc.integer({ min: 1, max: 10 }), (perOldSubtask, newParallelism) => {
        const operator = operatorMetadata('source', perOldSubtask.length, 128, false);
        // Tag each element with its origin so "exactly once" means the same element, not an equal one.
        const oldSnapshots = perOldSubtask.map((state, old): OperatorSnapshot => ({
          keyed: undefined,
          operatorState: Object.fromEntries(Object.entries(state).map(([name, values]) => [name, values.map((v, i) => `${old}.${i}:${v}`)])),
        }));
        const restored = Array.from({ length: newParallelism }, (_, subtask) => restoreSubtask(operator, oldSnapshots, subtask, newParallelism));
        const names = new Set(perOldSubtask.flatMap((state) => Object.keys(state)));
        for (const name of names) {
          const merged = oldSnapshots.flatMap((snapshot) => snapshot.operatorState[name] ?? []);
          for (let subtask = 0; subtask < newParallelism; subtask++) {
            expect(restored[subtask]!.operatorState[name]).toEqual(merged.filter((_, i) => i % newParallelism === subtask));
          }
          const dealt = restored.flatMap((snapshot) => snapshot.operatorState[name] ?? []);
          expect([...dealt].sort()).toEqual([...merged].sort());
        }
        for (const snapshot of restored) {
          expect(snapshot.keyed).toBeUndefined();
          expect(snapshot.unionStateNames).toBeUndefined();
        }
      }),
    );
  });

  it('gives union lists whole to every new subtask (property), next to round-robin lists', () => {
    fc.assert(
      fc.property(lists, fc.integer({ min: 1, max: 10 }), (perOldSubtask, newParallelism) => {
        const operator = operatorMetadata('broadcast', perOldSubtask.length, 128, false);
        const oldSnapshots = perOldSubtask.map((state): OperatorSnapshot => ({
          keyed: undefined,
          operatorState: { ...state, rules: [...(state.splits ?? [])] },
          unionStateNames: ['rules'],
        }));
        const allRules = oldSnapshots.flatMap((snapshot) => snapshot.operatorState.rules!);
        for (let subtask = 0; subtask < newParallelism; subtask++) {
          const restored = restoreSubtask(operator, oldSnapshots, subtask, newParallelism);
          expect(restored.operatorState.rules).toEqual(allRules);
          expect(restored.unionStateNames).toEqual(['rules']);
        }
      }),
    );
  });

  it('does not depend on the order in which old snapshots are passed', () => {
    const snapshot = (values: number[]): OperatorSnapshot => ({ keyed: undefined, operatorState: { splits: values } });
    const inOrder = [
      { subtask: 0, snapshot: snapshot([1, 2]) },
      { subtask: 1, snapshot: snapshot([3]) },
      { subtask: 2, snapshot: snapshot([4, 5]) },
    ];
    const shuffled = [inOrder[2]!, inOrder[0]!, inOrder[1]!];
    expect(redistributeSnapshots(shuffled, 0, 2, 128)).toEqual(redistributeSnapshots(inOrder, 0, 2, 128));
    expect(redistributeSnapshots(inOrder, 0, 2, 128).operatorState.splits).toEqual([1, 3, 5]);
    expect(redistributeSnapshots(inOrder, 1, 2, 128).operatorState.splits).toEqual([2, 4]);
  });

  it('keeps keyed and union state together for a keyed broadcast operator', () => {
    const maxParallelism = 8;
    const operator = operatorMetadata('enrich', 2, maxParallelism, true, true);
    const oldSnapshots = operator.subtasks.map((handle): OperatorSnapshot => ({
      keyed: {
        format: 'eddy-keyed-state/1',
        maxParallelism,
        keyGroups: [keyGroupSnapshot(handle.keyGroupRange[0])],
      },
      operatorState: { 'broadcast:rules': [['r1', 1]] },
      unionStateNames: ['broadcast:rules'],
    }));
    const restored = [0, 1, 2].map((subtask) => restoreSubtask(operator, oldSnapshots, subtask, 3));
    expect(restored.map((s) => s.keyed!.keyGroups.map((g) => g.keyGroup))).toEqual([[0], [4], []]);
    for (const snapshot of restored) expect(snapshot.operatorState['broadcast:rules']!.length).toBeGreaterThan(0);
  });

  it('reads every old subtask of a non-keyed operator', () => {
    expect(oldSubtasksFor(operatorMetadata('source', 3, 128, false), 0, 5)).toEqual({ keyed: [], operatorState: [0, 1, 2] });
    expect(oldSubtasksFor({ ...operatorMetadata('none', 1, 128, false), subtasks: [] }, 0, 2)).toEqual({ keyed: [], operatorState: [] });
  });
});

describe('redistributeSnapshots: operator state of keyed operators', () => {
  it('deals non-union lists of a keyed operator from every old subtask, not only the overlapping ones (property)', () => {
    fc.assert(
      fc.property(rescale, ({ maxParallelism, oldParallelism, newParallelism }) => {
        const operator = operatorMetadata('keyed-with-lists', oldParallelism, maxParallelism, true, true);
        const oldSnapshots = operator.subtasks.map((handle): OperatorSnapshot => ({
          keyed: { format: 'eddy-keyed-state/1', maxParallelism, keyGroups: [keyGroupSnapshot(handle.keyGroupRange[0])] },
          operatorState: { pending: [`from-${handle.subtask}-a`, `from-${handle.subtask}-b`] },
        }));
        const restored = Array.from({ length: newParallelism }, (_, subtask) => restoreSubtask(operator, oldSnapshots, subtask, newParallelism));
        const dealt = restored.flatMap((snapshot) => snapshot.operatorState.pending ?? []);
        expect(dealt.sort()).toEqual(oldSnapshots.flatMap((snapshot) => snapshot.operatorState.pending!).sort());
        const groups = restored.flatMap((snapshot) => snapshot.keyed?.keyGroups.map((group) => group.keyGroup) ?? []);
        expect(groups.sort((a, b) => a - b)).toEqual(operator.subtasks.map((handle) => handle.keyGroupRange[0]));
      }),
      { numRuns: 200 },
    );
  });
});

describe('checkRestoreCompatibility', () => {
  const checkpoint = (operators: readonly OperatorStateMetadata[], enumeratorUids: readonly string[] = []): { path: string; metadata: CheckpointMetadata } => ({
    path: '/data/checkpoints/chk-000007',
    metadata: {
      format: CHECKPOINT_FORMAT,
      checkpointId: 7,
      jobName: 'wordcount',
      graphFingerprint: 'fp',
      mode: 'exactly-once',
      triggeredAtMs: 0,
      durationMs: 0,
      totalBytes: 0,
      operators,
      enumerators: enumeratorUids.map((uid) => ({ uid, file: `enumerators/${uid}.state`, bytes: 1, sha256: '0'.repeat(64) })),
    },
  });
  const target = (uid: string, parallelism: number, maxParallelism = 128, isStateful = true): RestoreTarget => ({ uid, parallelism, maxParallelism, isStateful });
  const strict = { allowNonRestoredState: false };

  it('accepts the same graph at another parallelism, and new stateful operators without state', () => {
    const saved = checkpoint([operatorMetadata('counts', 2, 128, true), operatorMetadata('source', 1, 128, false)], ['source']);
    expect(() => checkRestoreCompatibility(saved, [target('source', 3), target('counts', 128), target('new-window', 4)], strict)).not.toThrow();
  });

  it('refuses a changed maxParallelism, naming the checkpoint, the operator and the fix', () => {
    const saved = checkpoint([operatorMetadata('counts', 2, 128, true)]);
    expect(() => checkRestoreCompatibility(saved, [target('counts', 2, 64)], strict)).toThrow(
      new ConfigurationError(
        "cannot restore from checkpoint '/data/checkpoints/chk-000007': operator 'counts' was checkpointed with maxParallelism 128 " +
          'but the job now has 64; key groups cannot be remapped, so keep maxParallelism at 128',
      ),
    );
  });

  it('refuses a parallelism above maxParallelism', () => {
    const saved = checkpoint([operatorMetadata('counts', 2, 16, true)]);
    expect(() => checkRestoreCompatibility(saved, [target('counts', 17, 16)], strict)).toThrow(
      /checkpoint '\/data\/checkpoints\/chk-000007': operator 'counts' would run at parallelism 17, above its maxParallelism 16; choose a parallelism ≤ 16/,
    );
  });

  it('refuses state the new graph has no operator for, unless non-restored state is allowed', () => {
    const saved = checkpoint([operatorMetadata('counts', 2, 128, true), operatorMetadata('old-sink', 1, 128, false)], ['old-source']);
    const targets = [target('counts', 2)];
    expect(() => checkRestoreCompatibility(saved, targets, strict)).toThrow(
      /chk-000007': it holds state for operators 'old-sink', 'old-source', which the job no longer has; give the operator its old uid again, or pass --allow-non-restored-state/,
    );
    expect(() => checkRestoreCompatibility(saved, targets, { allowNonRestoredState: true })).not.toThrow();
  });

  it('lists every problem in one sentence', () => {
    const saved = checkpoint([operatorMetadata('a', 1, 8, true), operatorMetadata('gone', 1, 8, false)]);
    let message = '';
    try {
      checkRestoreCompatibility(saved, [target('a', 9, 4)], strict);
    } catch (error) {
      message = String(error);
    }
    expect(message).toMatch(/parallelism 9, above its maxParallelism 4/);
    expect(message).toMatch(/maxParallelism 8 but the job now has 4/);
    expect(message).toMatch(/state for operator 'gone'/);
  });
});
