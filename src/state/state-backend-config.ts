import { getHeapStatistics } from 'node:v8';

/**
 * Which keyed state backend a job runs with, chosen per run (`--state-backend`, `--state-dir`,
 * `--state-memory`) or per job (the environment's default, which the command line overrides).
 *
 * - `memory`: every key's state on the JavaScript heap (fastest; state must fit in memory).
 * - `rocksdb`: state in one RocksDB database per keyed operator subtask under `dir`, with a bounded
 *   write-back cache of `memoryBytes` in all (shared out equally among the process's RocksDB backends)
 *   in front of it: state can be far larger than memory.
 */
export type StateBackendConfig =
  | { readonly kind: 'memory' }
  | {
      readonly kind: 'rocksdb';
      /** An existing folder; each run works in a folder of its own inside it, removed when the run ends. */
      readonly dir: string;
      /** The budget of the state caches of the whole run, bytes. */
      readonly memoryBytes: number;
    };

/** The state backends by name, for `--state-backend`. */
export const STATE_BACKEND_KINDS = ['memory', 'rocksdb'] as const;

/**
 * The default state cache budget of a run: a quarter of the JavaScript heap limit (so 32 MiB under
 * `--max-old-space-size=128`, 1 GiB under 4 GiB), at least 16 MiB.
 */
export function defaultStateMemoryBytes(): number {
  return Math.max(16 * 1024 ** 2, Math.floor(getHeapStatistics().heap_size_limit / 4));
}

/** A run's settings (`--state-backend`, `--state-dir`, `--state-memory`), each optional. */
export interface StateBackendOverrides {
  readonly kind?: StateBackendConfig['kind'];
  readonly dir?: string;
  readonly memoryBytes?: number;
}

/** Minimum state cache budget: below it the caches would thrash on every record. */
export const MIN_STATE_MEMORY_BYTES = 1024 ** 2;
