import { EddyError, describeError } from '../core/errors.ts';
import type { KeyedStateBackend, KeyedStateBackendOptions } from '../state/keyed-state-backend.ts';

/** Creates the keyed state backend of one operator subtask. */
export type KeyedStateBackendFactory = (options: KeyedStateBackendOptions) => KeyedStateBackend;

/**
 * The keyed state backend the runtime gives keyed operators: the memory backend for now (RocksDB comes
 * with its issue and will be chosen from the job's configuration). Loaded once per thread.
 */
export async function loadKeyedStateBackendFactory(): Promise<KeyedStateBackendFactory> {
  try {
    const { MemoryStateBackend } = await import('../state/memory/memory-state-backend.ts');
    return (options) => new MemoryStateBackend(options);
  } catch (error) {
    const reason = describeError(error);
    return () => {
      throw new EddyError(`the memory state backend could not be loaded: ${reason}`);
    };
  }
}
