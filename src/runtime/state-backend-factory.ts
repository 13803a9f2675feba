import os from 'node:os';
import path from 'node:path';
import { parseByteSize } from '../core/byte-size.ts';
import { ConfigurationError, EddyError, describeError } from '../core/errors.ts';
import type { JobStateBackend } from '../graph/stream-graph.ts';
import {
  defaultStateMemoryBytes,
  MIN_STATE_MEMORY_BYTES,
  type StateBackendConfig,
  type StateBackendOverrides,
} from '../state/state-backend-config.ts';
import type { KeyedStateBackend, KeyedStateBackendOptions } from '../state/keyed-state-backend.ts';
import { stateBackendFolder } from './state-run-folder.ts';

/** Creates the keyed state backend of one operator subtask. */
export type KeyedStateBackendFactory = (options: KeyedStateBackendOptions) => KeyedStateBackend;

/**
 * The state backend of one run, as every thread needs it (plain data: it crosses to workers): the
 * memory backend, or RocksDB in the run's folder with each backend's share of the cache budget.
 */
export type ResolvedStateBackend =
  | { readonly kind: 'memory' }
  | { readonly kind: 'rocksdb'; readonly runFolder: string; readonly memoryBytesPerBackend: number };

/** Loads the backend's code once per thread and returns the factory keyed operators call in `setup`. */
export async function loadKeyedStateBackendFactory(backend: ResolvedStateBackend, attempt: number): Promise<KeyedStateBackendFactory> {
  try {
    if (backend.kind === 'rocksdb') {
      const { RocksDBStateBackend } = await import('../state/rocksdb/rocksdb-state-backend.ts');
      return (options) =>
        new RocksDBStateBackend({
          ...options,
          path: stateBackendFolder(backend.runFolder, options.operatorUid, options.subtask, attempt),
          memoryBudgetBytes: backend.memoryBytesPerBackend,
        });
    }
    const { MemoryStateBackend } = await import('../state/memory/memory-state-backend.ts');
    return (options) => new MemoryStateBackend(options);
  } catch (error) {
    const reason = describeError(error);
    return () => {
      throw new EddyError(`the ${backend.kind} state backend could not be loaded: ${reason}`);
    };
  }
}

/**
 * The state backend of a run: the run's settings (`--state-backend`, `--state-dir`, `--state-memory`)
 * over the job's own choice (`env.setStateBackend`), over the defaults (memory; for rocksdb the system
 * temp folder and {@link defaultStateMemoryBytes}). Errors name the command-line option to fix.
 */
export function resolveStateBackend(job: JobStateBackend | undefined, run: StateBackendOverrides = {}): StateBackendConfig {
  const kind = run.kind ?? job?.kind ?? 'memory';
  if (kind === 'memory') {
    const stray = run.dir !== undefined ? '--state-dir' : run.memoryBytes !== undefined ? '--state-memory' : undefined;
    if (stray !== undefined) {
      throw new ConfigurationError(`${stray} configures the rocksdb state backend, but this run uses memory: add --state-backend rocksdb`);
    }
    return { kind: 'memory' };
  }
  const jobRocks = job?.kind === 'rocksdb' ? job : undefined;
  const memoryBytes =
    run.memoryBytes ?? (jobRocks?.memory === undefined ? defaultStateMemoryBytes() : parseByteSize(jobRocks.memory, "setStateBackend's memory"));
  if (memoryBytes < MIN_STATE_MEMORY_BYTES) {
    throw new ConfigurationError(`--state-memory must be at least 1mb, got ${memoryBytes} bytes`);
  }
  return { kind: 'rocksdb', dir: path.resolve(run.dir ?? jobRocks?.dir ?? os.tmpdir()), memoryBytes };
}
