import { describe, expect, it } from 'vitest';
import { KeyGroupRange } from '../../src/core/key-group.ts';
import { listState, mapState, valueState } from '../../src/state/descriptors.ts';
import { MemoryStateBackend } from '../../src/state/memory/memory-state-backend.ts';
import { BackendHarness, describeKeyedStateBackendConformance, testWindowCodec } from './backend-conformance.ts';

describeKeyedStateBackendConformance('memory', (options) => new MemoryStateBackend(options));

describe('MemoryStateBackend specifics', () => {
  it('rejects a key-group range outside [0, maxParallelism)', () => {
    const harness = new BackendHarness();
    expect(() => new MemoryStateBackend(harness.options({ keyGroupRange: new KeyGroupRange(8, 20) }))).toThrow(
      /outside \[0, 16\)/,
    );
  });

  it('refuses to snapshot values that are not plain data, with a sentence naming the rule', () => {
    const harness = new BackendHarness();
    const backend = new MemoryStateBackend(harness.options());
    const state = backend.getValueState(valueState<unknown>('fn'));
    backend.setCurrentKey('k');
    state.update({ callback: () => 1 });
    expect(() => backend.snapshot()).toThrow(/plain data/);
  });

  it('fires timers of one timestamp and key group in insertion order (its tie order)', () => {
    const backend = new MemoryStateBackend(new BackendHarness().options({ maxParallelism: 1, keyGroupRange: new KeyGroupRange(0, 1) }));
    const queue = backend.getTimerQueue('t', testWindowCodec);
    const keys = ['k5', 'k0', 'k3', 'k1'];
    for (const key of keys) {
      backend.setCurrentKey(key);
      queue.add(10, { start: 0, end: 10 });
    }
    const fired: unknown[] = [];
    for (let timer = queue.poll(); timer !== undefined; timer = queue.poll()) fired.push(timer.key);
    expect(fired).toEqual(keys);
  });

  it('rejects one name used both per window and outside windows', () => {
    const backend = new MemoryStateBackend(new BackendHarness().options());
    backend.getListState(listState<number>('both'));
    expect(() => backend.getPartitionedState(listState<number>('both'), testWindowCodec)).toThrow(/different names/);
  });

  it('snapshots 100k entries in reasonable time', () => {
    const backend = new MemoryStateBackend(new BackendHarness().options({ maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 128) }));
    const value = backend.getValueState(valueState<{ count: number; name: string }>('v'));
    const map = backend.getMapState(mapState<number, number>('m'));
    for (let i = 0; i < 50_000; i++) {
      backend.setCurrentKey(i);
      value.update({ count: i, name: `n${i}` });
      map.put(i, i);
    }
    const startMs = performance.now();
    const snapshot = backend.snapshot();
    const snapshotMs = performance.now() - startMs;
    const restored = new MemoryStateBackend(new BackendHarness().options({ maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 128) }));
    const restoreStartMs = performance.now();
    restored.restore([snapshot]);
    restored.getValueState(valueState<{ count: number; name: string }>('v'));
    restored.getMapState(mapState<number, number>('m'));
    const restoreMs = performance.now() - restoreStartMs;
    console.log(`memory backend: snapshot of 100k entries ${snapshotMs.toFixed(0)} ms, restore ${restoreMs.toFixed(0)} ms`);
    expect(snapshot.keyGroups.reduce((n, g) => n + g.states.reduce((m, s) => m + s.entries.length, 0), 0)).toBe(100_000);
    expect(snapshotMs).toBeLessThan(5_000);
  });
});
