import { ConfigurationError, EddyError } from '../core/errors.ts';
import { checkParallelism, computeKeyGroupRangeForOperatorIndex, type KeyGroupRange } from '../core/key-group.ts';
import type { KeyGroupSnapshot } from '../state/keyed-state-backend.ts';
import type { CheckpointMetadata, OperatorStateMetadata, StateHandle } from './checkpoint-metadata.ts';
import type { OperatorSnapshot } from './checkpoint-storage.ts';

/**
 * Which state each new subtask gets when a job restores, possibly at another parallelism. Pure
 * arithmetic over metadata and snapshots; reading files is the caller's job.
 *
 * - Keyed state moves by key group: new subtask i of p' gets exactly the key groups of
 *   `computeKeyGroupRangeForOperatorIndex(M, p', i)`, taken from the old subtasks whose ranges overlap
 *   it. Every key group lands in exactly one new subtask. M (maxParallelism) cannot change.
 * - Operator (list) state is merged by name across all old subtasks (in old-subtask order) and dealt
 *   round-robin: element j goes to new subtask j mod p'. Every element lands exactly once.
 * - Union state (names in `unionStateNames`) goes whole to every new subtask.
 *
 * Round-robin needs the whole merged list, so operator state is read from every old subtask that has
 * some; keyed state only from the old subtasks whose key-group ranges overlap (the two are separate
 * files, see `StateHandle`).
 */

export interface RestoreTarget {
  readonly uid: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly isStateful: boolean;
}

/**
 * Throws a ConfigurationError naming the checkpoint path and the problem: a different maxParallelism for
 * a uid, parallelism > maxParallelism, state for a uid the new graph lacks (unless allowNonRestoredState).
 * Lists every problem found, not only the first.
 */
export function checkRestoreCompatibility(
  checkpoint: { path: string; metadata: CheckpointMetadata },
  targets: readonly RestoreTarget[],
  options: { allowNonRestoredState: boolean },
): void {
  const problems: string[] = [];
  const targetsByUid = new Map(targets.map((target) => [target.uid, target]));
  for (const target of targets) {
    if (target.parallelism > target.maxParallelism) {
      problems.push(
        `operator '${target.uid}' would run at parallelism ${target.parallelism}, above its maxParallelism ` +
          `${target.maxParallelism}; choose a parallelism ≤ ${target.maxParallelism}`,
      );
    }
  }
  const missing: string[] = [];
  for (const operator of checkpoint.metadata.operators) {
    const target = targetsByUid.get(operator.uid);
    if (target === undefined) {
      missing.push(operator.uid);
      continue;
    }
    if (target.maxParallelism !== operator.maxParallelism) {
      problems.push(
        `operator '${operator.uid}' was checkpointed with maxParallelism ${operator.maxParallelism} but the job ` +
          `now has ${target.maxParallelism}; key groups cannot be remapped, so keep maxParallelism at ${operator.maxParallelism}`,
      );
    }
  }
  for (const enumerator of checkpoint.metadata.enumerators) {
    if (!targetsByUid.has(enumerator.uid) && !missing.includes(enumerator.uid)) missing.push(enumerator.uid);
  }
  if (missing.length > 0 && !options.allowNonRestoredState) {
    const names = missing.map((uid) => `'${uid}'`).join(', ');
    problems.push(
      `it holds state for ${missing.length === 1 ? 'operator' : 'operators'} ${names}, which the job no longer ` +
        'has; give the operator its old uid again, or pass --allow-non-restored-state to drop that state',
    );
  }
  if (problems.length > 0) {
    throw new ConfigurationError(`cannot restore from checkpoint '${checkpoint.path}': ${problems.join('; ')}`);
  }
}

/** Which old subtasks' files one new subtask reads, per kind of state; ascending subtask order. */
export interface OldSubtasks {
  /** Old subtasks with operator (list/union) state: all of them, since round-robin needs every list. */
  readonly operatorState: readonly number[];
  /** Old subtasks with keyed state whose key-group range overlaps the new subtask's. */
  readonly keyed: readonly number[];
}

/** Old subtasks whose state new subtask `subtask` of `parallelism` needs; see {@link OldSubtasks}. */
export function oldSubtasksFor(operator: OperatorStateMetadata, subtask: number, parallelism: number): OldSubtasks {
  checkSubtask(operator.maxParallelism, parallelism, subtask);
  const handles = [...operator.subtasks].sort((a, b) => a.subtask - b.subtask);
  const range = computeKeyGroupRangeForOperatorIndex(operator.maxParallelism, parallelism, subtask);
  return {
    operatorState: handles.filter((handle) => handle.operatorState !== undefined).map((handle) => handle.subtask),
    keyed: handles
      .filter((handle) => handle.keyed !== undefined && hasKeyGroups(handle))
      .filter((handle) => handle.keyGroupRange[0] < range.end && range.start < handle.keyGroupRange[1])
      .map((handle) => handle.subtask),
  };
}

/**
 * Combines old subtasks' snapshots for one new subtask: keyed key groups filtered to its range (from
 * computeKeyGroupRangeForOperatorIndex); operator-state lists merged by name in old-subtask order,
 * element i going to new subtask i mod parallelism; union-state lists (unionStateNames) given whole to
 * every subtask. Cost: O(total key groups + total list elements) of `old`; shares (does not copy) the
 * key-group snapshots and list elements.
 */
export function redistributeSnapshots(
  old: ReadonlyArray<{ subtask: number; snapshot: OperatorSnapshot }>,
  subtask: number,
  parallelism: number,
  maxParallelism: number,
): OperatorSnapshot {
  checkSubtask(maxParallelism, parallelism, subtask);
  const ordered = [...old].sort((a, b) => a.subtask - b.subtask);
  const range = computeKeyGroupRangeForOperatorIndex(maxParallelism, parallelism, subtask);

  const unionNames = new Set<string>();
  for (const { snapshot } of ordered) for (const name of snapshot.unionStateNames ?? []) unionNames.add(name);
  const merged = new Map<string, unknown[]>();
  for (const { snapshot } of ordered) {
    for (const [name, elements] of Object.entries(snapshot.operatorState)) {
      let list = merged.get(name);
      if (list === undefined) merged.set(name, (list = []));
      for (const element of elements) list.push(element);
    }
  }
  const operatorState: Record<string, unknown[]> = {};
  for (const [name, list] of merged) {
    if (unionNames.has(name)) {
      operatorState[name] = list;
      continue;
    }
    const share: unknown[] = [];
    for (let i = subtask; i < list.length; i += parallelism) share.push(list[i]);
    operatorState[name] = share;
  }

  const keyed = mergeKeyGroups(ordered, range, maxParallelism);
  // Native (RocksDB) state moves as whole databases: the backend keeps its own key groups of each.
  const natives = ordered.flatMap(({ snapshot }) => snapshot.restoredNativeKeyed ?? []).filter((native) => {
    const [start, end] = native.keyGroupRange;
    return start < range.end && range.start < end;
  });
  return {
    keyed,
    operatorState,
    ...(unionNames.size === 0 ? {} : { unionStateNames: [...unionNames] }),
    ...(natives.length === 0 ? {} : { restoredNativeKeyed: natives }),
  };
}

function mergeKeyGroups(
  ordered: ReadonlyArray<{ subtask: number; snapshot: OperatorSnapshot }>,
  range: KeyGroupRange,
  maxParallelism: number,
): OperatorSnapshot['keyed'] {
  const keyGroups: KeyGroupSnapshot[] = [];
  const ownerOf = new Map<number, number>();
  let hasKeyedState = false;
  for (const { subtask: oldSubtask, snapshot } of ordered) {
    const keyed = snapshot.keyed;
    if (keyed === undefined) continue;
    hasKeyedState = true;
    if (keyed.maxParallelism !== maxParallelism) {
      throw new ConfigurationError(
        `the keyed state of old subtask ${oldSubtask} was taken with maxParallelism ${keyed.maxParallelism} but the ` +
          `job now has ${maxParallelism}; keep maxParallelism at ${keyed.maxParallelism}`,
      );
    }
    for (const group of keyed.keyGroups) {
      if (!range.contains(group.keyGroup)) continue;
      const previous = ownerOf.get(group.keyGroup);
      if (previous !== undefined) {
        throw new EddyError(`key group ${group.keyGroup} is in the snapshots of both old subtasks ${previous} and ${oldSubtask}`);
      }
      ownerOf.set(group.keyGroup, oldSubtask);
      keyGroups.push(group);
    }
  }
  if (!hasKeyedState) return undefined;
  keyGroups.sort((a, b) => a.keyGroup - b.keyGroup);
  return { format: 'eddy-keyed-state/1', maxParallelism, keyGroups };
}

function hasKeyGroups(handle: StateHandle): boolean {
  return handle.keyGroupRange[1] > handle.keyGroupRange[0];
}

function checkSubtask(maxParallelism: number, parallelism: number, subtask: number): void {
  checkParallelism(maxParallelism, parallelism);
  if (!Number.isInteger(subtask) || subtask < 0 || subtask >= parallelism) {
    throw new EddyError(`subtask must be a whole number in [0, ${parallelism}), got ${subtask}`);
  }
}
