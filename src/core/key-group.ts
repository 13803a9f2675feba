import { ConfigurationError } from './errors.ts';
import { KeyWriter, writeKey } from './key-codec.ts';
import { KEY_GROUP_HASH_SEED, murmur3x86_32 } from './murmur3.ts';

/**
 * Key groups: the unit of keyed state. A job has `maxParallelism` key groups (default 128, at most
 * 32768); a key belongs to key group `murmur3(canonicalKeyBytes) mod maxParallelism`; subtask i of p
 * owns the contiguous range `[ceil(i·M/p), ceil((i+1)·M/p))` — Flink's arithmetic. Because state,
 * timers and snapshots are organized by key group, a job can be restored at any parallelism ≤ M.
 */
export const DEFAULT_MAX_PARALLELISM = 128;
/** The largest allowed maxParallelism (number of key groups), as in Flink. */
export const UPPER_BOUND_MAX_PARALLELISM = 32_768;

/** A contiguous, inclusive-exclusive range of key groups `[start, end)`. */
export class KeyGroupRange {
  readonly start: number;
  readonly end: number;

  constructor(start: number, end: number) {
    this.start = start;
    this.end = end;
  }

  get size(): number {
    return this.end - this.start;
  }

  contains(keyGroup: number): boolean {
    return keyGroup >= this.start && keyGroup < this.end;
  }

  toString(): string {
    return `[${this.start}, ${this.end})`;
  }
}

const writer = new KeyWriter();

/** The key group of a key. Cost: one canonical encoding and one murmur3 pass over its bytes. */
export function assignToKeyGroup(key: unknown, maxParallelism: number): number {
  if (typeof key === 'number' && Number.isSafeInteger(key)) {
    return computeKeyGroupForSafeInteger(key, maxParallelism);
  }
  writer.reset();
  writeKey(writer, key);
  return murmur3x86_32(writer.bytes, writer.length, KEY_GROUP_HASH_SEED) % maxParallelism;
}

const intBytes = new Uint8Array(9);
const intView = new DataView(intBytes.buffer);
intBytes[0] = 0x10;

/** Fast path for safe-integer keys; identical to encoding them canonically (tag 0x10 + int64). */
function computeKeyGroupForSafeInteger(key: number, maxParallelism: number): number {
  intView.setBigInt64(1, BigInt(key === 0 ? 0 : key));
  return murmur3x86_32(intBytes, 9, KEY_GROUP_HASH_SEED) % maxParallelism;
}

/** The key groups subtask `operatorIndex` of `parallelism` owns. */
export function computeKeyGroupRangeForOperatorIndex(
  maxParallelism: number,
  parallelism: number,
  operatorIndex: number,
): KeyGroupRange {
  checkParallelism(maxParallelism, parallelism);
  const start = Math.floor((operatorIndex * maxParallelism + parallelism - 1) / parallelism);
  const end = Math.floor(((operatorIndex + 1) * maxParallelism - 1) / parallelism) + 1;
  return new KeyGroupRange(start, end);
}

/** The subtask (of `parallelism`) that owns `keyGroup`. Inverse of {@link computeKeyGroupRangeForOperatorIndex}. */
export function computeOperatorIndexForKeyGroup(maxParallelism: number, parallelism: number, keyGroup: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/**
 * Throws ConfigurationError unless `maxParallelism` is a whole number in [1, 32768] and `parallelism` one in
 * [1, maxParallelism].
 */
export function checkParallelism(maxParallelism: number, parallelism: number): void {
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > UPPER_BOUND_MAX_PARALLELISM) {
    throw new ConfigurationError(
      `maxParallelism must be a whole number in [1, ${UPPER_BOUND_MAX_PARALLELISM}], got ${maxParallelism}`,
    );
  }
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new ConfigurationError(
      `parallelism must be a whole number in [1, maxParallelism=${maxParallelism}], got ${parallelism}`,
    );
  }
}
