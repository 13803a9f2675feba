import type { ZodType } from 'zod';
import { ConfigurationError, EddyError } from '../core/errors.ts';
import type { KeyGroupRange } from '../core/key-group.ts';
import type { StateDescriptor } from './descriptors.ts';
import type { KeyedStateBackendOptions } from './keyed-state-backend.ts';

/**
 * The checks every keyed state backend makes the same way, with the same messages (the conformance
 * suite pins them): the key-group range it is created for, keys routed to the wrong subtask, one
 * state name registered as two kinds or used both per window and outside windows, and restored state
 * registered as another kind than it was saved as.
 */

/** Throws unless `options.keyGroupRange` is a non-empty range within `[0, maxParallelism)`. */
export function checkBackendKeyGroupRange(options: KeyedStateBackendOptions): void {
  const range = options.keyGroupRange;
  if (range.start < 0 || range.end > options.maxParallelism || range.start >= range.end) {
    throw new EddyError(
      `operator '${options.operatorUid}' subtask ${options.subtask}: key-group range ${range} ` +
        `is empty or outside [0, ${options.maxParallelism})`,
      { operatorUid: options.operatorUid, subtask: options.subtask },
    );
  }
}

/** The error for a key whose key group the backend does not own: a routing bug. */
export function keyOutsideRange(operatorUid: string, subtask: number, key: unknown, keyGroup: number, range: KeyGroupRange): EddyError {
  return new EddyError(
    `operator '${operatorUid}' subtask ${subtask} got key ${describeKey(key)} of key group ${keyGroup}, ` +
      `outside its range ${range}: records were routed to the wrong subtask`,
    { operatorUid, subtask },
  );
}

/** Throws when state `descriptor.name`, registered as `kind`, is requested as another kind. */
export function checkSameStateKind(operatorUid: string, kind: StateDescriptor['kind'], descriptor: StateDescriptor): void {
  if (kind === descriptor.kind) return;
  throw new ConfigurationError(
    `state '${descriptor.name}' of operator '${operatorUid}' is already registered as ${kind} state and cannot ` +
      `also be ${descriptor.kind} state; use a different name for each state`,
    { operatorUid },
  );
}

/** Throws when state `name`, registered per window or outside windows (`wasVoid`), is requested the other way. */
export function checkSameNamespaceUse(operatorUid: string, name: string, wasVoid: boolean, isVoid: boolean): void {
  if (wasVoid === isVoid) return;
  throw new ConfigurationError(
    `state '${name}' of operator '${operatorUid}' is used both per window and outside windows; give the two uses different names`,
    { operatorUid },
  );
}

/**
 * Throws when restored state is registered as another kind than it was saved as (`savedAs`: the
 * verb of the message, "snapshotted" or "checkpointed").
 */
export function checkRestoredStateKind(
  operatorUid: string,
  restoredKind: StateDescriptor['kind'],
  descriptor: StateDescriptor,
  savedAs: 'snapshotted' | 'checkpointed',
): void {
  if (restoredKind === descriptor.kind) return;
  throw new ConfigurationError(
    `state '${descriptor.name}' of operator '${operatorUid}' was ${savedAs} as ${restoredKind} state but is now registered as ` +
      `${descriptor.kind} state; keep its kind or give the new state another name`,
    { operatorUid },
  );
}

/** Throws unless a keyed-state snapshot was taken with the backend's `maxParallelism` (key groups cannot be remapped). */
export function checkSnapshotMaxParallelism(operatorUid: string, subtask: number, maxParallelism: number, snapshotMaxParallelism: number): void {
  if (snapshotMaxParallelism === maxParallelism) return;
  throw new ConfigurationError(
    `operator '${operatorUid}': the snapshot was taken with maxParallelism ${snapshotMaxParallelism} but ` +
      `the job now has ${maxParallelism}; key groups cannot be remapped, so keep maxParallelism at ${snapshotMaxParallelism}`,
    { operatorUid, subtask },
  );
}

/**
 * Throws when a restored value (`where`: '' for a whole value, or e.g. 'map ' for a map's) does not
 * match the schema of state `descriptor`; the message names the operator, the key group and the path.
 */
export function checkRestoredValue(descriptor: StateDescriptor, operatorUid: string, value: unknown, keyGroup: number, where: string): void {
  const schema = descriptor.schema as ZodType<unknown> | undefined;
  if (schema === undefined) return;
  const result = schema.safeParse(value);
  if (result.success) return;
  const issue = result.error.issues[0];
  const path = issue === undefined || issue.path.length === 0 ? '' : ` at '${issue.path.map(String).join('.')}'`;
  throw new ConfigurationError(
    `restoring state '${descriptor.name}' of operator '${operatorUid}' (key group ${keyGroup}): a stored ${where}value does ` +
      `not match the state's schema${path}: ${issue?.message ?? 'invalid'}. Make the schema accept the stored ` +
      `values (or bump the descriptor version and migrate them), or restore without this state.`,
    { operatorUid },
  );
}

/** The error for restored data of state `name` that cannot be what a snapshot holds. */
export function corruptRestoredState(name: string, operatorUid: string, keyGroup: number, what: string): EddyError {
  return new EddyError(`restoring state '${name}' of operator '${operatorUid}' (key group ${keyGroup}): ${what}; the snapshot is corrupt`, {
    operatorUid,
  });
}

/** A key for messages: JSON (bigints as `12n`), at most 80 characters. */
export function describeKey(key: unknown): string {
  try {
    const text = JSON.stringify(key, (_name, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value));
    return text === undefined ? String(key) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(key);
  }
}
