import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { StateBackendConfig } from '../../src/state/state-backend-config.ts';
import type { KeyedStateBackend, KeyedStateBackendOptions } from '../../src/state/keyed-state-backend.ts';
import { MemoryStateBackend } from '../../src/state/memory/memory-state-backend.ts';
import { RocksDBStateBackend } from '../../src/state/rocksdb/rocksdb-state-backend.ts';

/**
 * The keyed state backend the state-touching suites run with. `EDDY_TEST_STATE_BACKEND=rocksdb` (the
 * vitest project `rocksdb`, see test/vitest.config.ts) runs the window, operator, job and recovery
 * suites again on RocksDB: the "every earlier test also passes with rocksdb".
 */
export const TEST_STATE_BACKEND: StateBackendConfig['kind'] = process.env.EDDY_TEST_STATE_BACKEND === 'rocksdb' ? 'rocksdb' : 'memory';

let stateDir: string | undefined;

/** A state dir for this test process, removed when it exits. */
function testStateDir(): string {
  if (stateDir === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'eddy-test-state-'));
    stateDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return stateDir;
}

/** `eddy run` options selecting the suite's backend (none for memory: the default). */
export function stateBackendCliArgs(): string[] {
  return TEST_STATE_BACKEND === 'rocksdb' ? ['--state-backend', 'rocksdb', '--state-dir', testStateDir(), '--state-memory', '16mb'] : [];
}

/** `executeJob` options selecting the suite's backend. */
export function stateBackendExecutionOptions(): { stateBackend?: StateBackendConfig } {
  return TEST_STATE_BACKEND === 'rocksdb' ? { stateBackend: { kind: 'rocksdb', dir: testStateDir(), memoryBytes: 16 * 1024 ** 2 } } : {};
}

let databases = 0;

/**
 * A backend for operator harnesses. With rocksdb, snapshots take the canonical path (the harness
 * snapshots synchronously); native checkpoints are covered by the executor-level suites.
 */
export function createTestKeyedStateBackend(options: KeyedStateBackendOptions): KeyedStateBackend {
  if (TEST_STATE_BACKEND === 'memory') return new MemoryStateBackend(options);
  const backend = new RocksDBStateBackend({
    ...options,
    path: path.join(testStateDir(), `harness-${process.pid}-${databases++}`),
    memoryBudgetBytes: 4 * 1024 ** 2,
  });
  return withoutNativeSnapshots(backend);
}

function withoutNativeSnapshots(backend: KeyedStateBackend): KeyedStateBackend {
  return new Proxy(backend, {
    get(target, property, receiver) {
      if (property === 'snapshotNative' || property === 'restoreNative') return undefined;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
