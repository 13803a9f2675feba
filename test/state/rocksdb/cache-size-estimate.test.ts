import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyGroupRange } from '../../../src/core/key-group.ts';
import { listState, mapState, valueState } from '../../../src/state/descriptors.ts';
import { RocksDBStateBackend } from '../../../src/state/rocksdb/rocksdb-state-backend.ts';
import { BackendHarness, testWindowCodec, type TestWindow } from '../backend-conformance.ts';

/**
 * The write-back cache's budget (`--state-memory`) is kept on *estimated* bytes: each cached row
 * carries an estimate of the heap it holds (the entry object, its slots in the indexes, the decoded
 * key, namespace and value). If the estimate is low, a budget that should fit the heap does not: the
 * 20M-key run under a 512 MB heap and a 256 MB budget ran out of heap with estimates ~1.6× short.
 *
 * Here each state shape is filled with many rows under a budget that holds them all; the heap they
 * take (after a full GC, before against after) is compared with the cache's estimate. The estimate
 * must be within [0.8, 1.25] of the real heap. The overheads are those of Node's official builds (64-bit,
 * no pointer compression: 8 bytes per field); a build with pointer compression would hold less.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const root = mkdtempSync(path.join(tmpdir(), 'eddy-cache-estimate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let nextDir = 0;

const ROWS = 60_000;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface Measured {
  readonly realBytes: number;
  readonly estimatedBytes: number;
  readonly ratio: number;
}

/** Runs `fill` on a fresh backend (1 GB budget); measures the heap it retains against the cache's estimate. */
function measure(name: string, fill: (backend: RocksDBStateBackend) => void): Measured {
  const backend = new RocksDBStateBackend({
    ...new BackendHarness().options({ maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 128) }),
    path: path.join(root, `db-${nextDir++}`),
    memoryBudgetBytes: 1024 * 1024 * 1024,
  });
  try {
    // Registers the states and warms up code paths, so that what follows measures rows only.
    fill(backend);
    const before = heapUsed();
    const estimatedBefore = backend.metrics.bytesCached;
    fill(backend);
    const realBytes = heapUsed() - before;
    const estimatedBytes = backend.metrics.bytesCached - estimatedBefore;
    const ratio = estimatedBytes / realBytes;
    console.log(
      `cache estimate, ${name}: real ${(realBytes / ROWS).toFixed(0)} B/row, estimated ${(estimatedBytes / ROWS).toFixed(0)} B/row (×${ratio.toFixed(2)})`,
    );
    return { realBytes, estimatedBytes, ratio };
  } finally {
    backend.dispose();
  }
}

let round = 0;

describe('the cache budget estimate tracks the real heap', () => {
  it('value state: string keys, numbers', () => {
    const { ratio } = measure('value of a number', (backend) => {
      const state = backend.getValueState(valueState<number>('count'));
      const base = round++ * ROWS;
      for (let i = 0; i < ROWS; i++) {
        backend.setCurrentKey(`user-${base + i}`);
        state.update(i + 0.5);
      }
    });
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });

  it('value state: 100-character strings', () => {
    const { ratio } = measure('value of a 100-character string', (backend) => {
      const state = backend.getValueState(valueState<string>('payload'));
      const base = round++ * ROWS;
      for (let i = 0; i < ROWS; i++) {
        const key = `k${base + i}`;
        backend.setCurrentKey(key);
        state.update(`${key}:${'.'.repeat(90)}${i}`.slice(0, 100));
      }
    });
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });

  it('value state: small records in windows', () => {
    const { ratio } = measure('windowed small record', (backend) => {
      const state = backend.getPartitionedState(valueState<{ sum: number; count: number }>('acc'), testWindowCodec);
      const base = round++ * ROWS;
      for (let i = 0; i < ROWS; i++) {
        backend.setCurrentKey(`user-${(base + i) >>> 2}`);
        const window: TestWindow = { start: (i & 3) * 1000, end: (i & 3) * 1000 + 1000 };
        state.setCurrentNamespace(window);
        state.updateInternal({ sum: i * 1.5, count: i });
      }
    });
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });

  it('list state: 8 numbers per key', () => {
    const { ratio } = measure('list of 8 numbers', (backend) => {
      const state = backend.getListState(listState<number>('list'));
      const base = round++ * ROWS;
      for (let i = 0; i < ROWS; i++) {
        backend.setCurrentKey(`user-${base + i}`);
        for (let j = 0; j < 8; j++) state.add(i * 8 + j + 0.25);
      }
    });
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });

  it('map state: 10 string user keys per key', () => {
    const { ratio } = measure('map of 10 cells', (backend) => {
      const state = backend.getMapState(mapState<string, number>('words'));
      const base = round++ * ROWS;
      for (let i = 0; i < ROWS / 10; i++) {
        backend.setCurrentKey(`user-${base + i}`);
        for (let j = 0; j < 10; j++) state.put(`word-${j}`, i + j + 0.5);
      }
    });
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });
});
