import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { assignToKeyGroup, computeKeyGroupRangeForOperatorIndex, KeyGroupRange } from '../../../src/core/key-group.ts';
import { listState, mapState, stateTtl, valueState } from '../../../src/state/descriptors.ts';
import {
  VOID_NAMESPACE,
  voidNamespaceCodec,
  type KeyedStateBackendOptions,
  type NativeKeyedStateRestore,
} from '../../../src/state/keyed-state-backend.ts';
import { z } from 'zod';
import { ConfigurationError } from '../../../src/core/errors.ts';
import { RocksDBStateBackend } from '../../../src/state/rocksdb/rocksdb-state-backend.ts';
import { BackendHarness, describeKeyedStateBackendConformance, keysInRange, testWindowCodec } from '../backend-conformance.ts';
import { inMemoryStores } from './in-memory-rocks-store.ts';

const root = mkdtempSync(path.join(tmpdir(), 'eddy-rocksdb-backend-'));
let nextDir = 0;
const open: RocksDBStateBackend[] = [];

function factory(memoryBudgetBytes?: number) {
  return (options: KeyedStateBackendOptions): RocksDBStateBackend => {
    const backend = new RocksDBStateBackend({ ...options, path: path.join(root, `db-${nextDir++}`), memoryBudgetBytes });
    open.push(backend);
    return backend;
  };
}

/** Cache counters of the disposed backends of the 4 KiB conformance run. */
const tinyTotals = { evictions: 0, misses: 0, rowsWritten: 0 };

afterEach(() => {
  for (const backend of open.splice(0)) {
    if (backend.cacheBudgetBytes === 4096) {
      tinyTotals.evictions += backend.metrics.evictions;
      tinyTotals.misses += backend.metrics.misses;
      tinyTotals.rowsWritten += backend.metrics.rowsWritten;
    }
    backend.dispose();
  }
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('with the default budget', () => {
  describeKeyedStateBackendConformance('rocksdb', factory());
});

describe('with a 4 KiB budget (eviction, write-back and blocking re-reads)', () => {
  describeKeyedStateBackendConformance('rocksdb (4 KiB cache)', factory(4096));

  it('exercised eviction, write-back and blocking re-reads', () => {
    console.log(`rocksdb conformance with a 4 KiB cache: ${JSON.stringify(tinyTotals)}`);
    expect(tinyTotals.evictions).toBeGreaterThan(500);
    expect(tinyTotals.rowsWritten).toBeGreaterThan(500);
    expect(tinyTotals.misses).toBeGreaterThan(500);
  });
});

/** Lets answers of the store (and their installs) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function harnessOptions(overrides: Partial<KeyedStateBackendOptions> = {}) {
  return new BackendHarness().options(overrides);
}

describe('RocksDBStateBackend specifics', () => {
  it('prefetching the rows of a batch makes the batch free of blocking reads', async () => {
    const backend = factory(2048 * 1024)(harnessOptions({ maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 128) }));
    const count = backend.getValueState(valueState<number>('count'));
    const words = backend.getMapState(mapState<string, number>('words'));
    const keys = Array.from({ length: 12_000 }, (_, i) => `user-${i}`);
    for (const [i, key] of keys.entries()) {
      backend.setCurrentKey(key);
      count.update(i);
      words.put('w', i);
    }
    // Most rows were evicted (2 MiB holds about a tenth of them); read a batch back (a fifth of the budget).
    const batch = keys.slice(0, 500);
    const before = { ...backend.metrics };
    backend.beginPrefetch();
    for (const key of batch) {
      const keyGroup = assignToKeyGroup(key, 128);
      backend.prefetchEntry('count', key, keyGroup, VOID_NAMESPACE);
      backend.prefetchEntry(words, key, keyGroup, VOID_NAMESPACE, 'w'); // by object, not name
      backend.prefetchEntry('count', key, keyGroup, VOID_NAMESPACE); // duplicates are requested once
    }
    const pending = backend.endPrefetch();
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    const afterPrefetch = { ...backend.metrics };
    expect(afterPrefetch.prefetched).toBeGreaterThan(before.prefetched + 500);
    for (const [i, key] of batch.entries()) {
      backend.setCurrentKey(key);
      expect(count.value()).toBe(i);
      expect(words.get('w')).toBe(i);
    }
    expect(backend.metrics.misses).toBe(afterPrefetch.misses);
    // Everything is cached now: no request is made and no promise allocated.
    backend.beginPrefetch();
    backend.prefetchEntry('count', batch[0], assignToKeyGroup(batch[0], 128), VOID_NAMESPACE);
    expect(backend.endPrefetch()).toBeUndefined();
    // Without a prefetch, the same reads block once per row.
    const cold = keys.slice(2_000, 2_050);
    const missesBefore = backend.metrics.misses;
    for (const key of cold) {
      backend.setCurrentKey(key);
      expect(count.value()).toBe(keys.indexOf(key));
    }
    expect(backend.metrics.misses - missesBefore).toBe(cold.length);
  });

  it('setCurrentKey reuses the key groups of the prefetched batch, and hashes any key out of that order', async () => {
    const backend = factory()(harnessOptions({ maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 128) }));
    backend.getValueState(valueState<number>('count'));
    const batch = ['a', 'b', 'a', 7, -0];
    backend.beginPrefetch();
    // Wrong groups on purpose: a reused group shows up as that wrong group.
    for (const key of batch) backend.prefetchKey(key, 100 + batch.indexOf(key));
    await backend.endPrefetch();
    const groups: number[] = [];
    for (const key of ['a', 'zz', 'b', 'a', 7, 0, 'a']) {
      backend.setCurrentKey(key);
      groups.push(backend.getCurrentKeyGroup());
    }
    const hashed = (key: unknown) => assignToKeyGroup(key, 128);
    // 'zz' is out of order (hashed; the cursor stays), 0 matches -0 (the same key), the last 'a' is past the batch.
    expect(groups).toEqual([100, hashed('zz'), 101, 100, 103, 104, hashed('a')]);
    // A new prefetch starts over.
    backend.beginPrefetch();
    backend.setCurrentKey('b');
    expect(backend.getCurrentKeyGroup()).toBe(hashed('b'));
  });

  it('prefetches timer rows beyond the in-memory heap, and whole maps', async () => {
    // 64 KiB: the timer heap holds at most 64 timers; the batch's rows fit the cache.
    const backend = factory(64 * 1024)(harnessOptions());
    const queue = backend.getTimerQueue('svc/event-time', voidNamespaceCodec);
    const map = backend.getMapState(mapState<number, string>('m'));
    const keys = keysInRange(new KeyGroupRange(0, 16), 16, 200);
    for (const [i, key] of keys.entries()) {
      backend.setCurrentKey(key);
      queue.add(1_000 + i, VOID_NAMESPACE); // past 64 timers the heap spills to rows
      map.put(i, 'a');
      map.put(i + 1, 'b');
    }
    backend.flushDirty();
    const late = keys.slice(150, 180);
    backend.beginPrefetch();
    for (const [j, key] of late.entries()) {
      const keyGroup = assignToKeyGroup(key, 16);
      backend.prefetchTimer('svc/event-time', key, keyGroup, 1_150 + j, VOID_NAMESPACE);
      backend.prefetchEntry('m', key, keyGroup, VOID_NAMESPACE);
    }
    await backend.endPrefetch();
    const missesBefore = backend.metrics.misses;
    const scansBefore = backend.metrics.blockingScans;
    for (const [j, key] of late.entries()) {
      backend.setCurrentKey(key);
      expect(queue.add(1_150 + j, VOID_NAMESPACE)).toBe(false);
      expect(new Map(map.entries())).toEqual(new Map([[150 + j, 'a'], [151 + j, 'b']]));
    }
    expect(backend.metrics.misses).toBe(missesBefore);
    expect(backend.metrics.blockingScans).toBe(scansBefore);
  });

  it('property: an answer to a prefetch issued before a write never replaces the written value', async () => {
    const stores = inMemoryStores();
    const backend = new RocksDBStateBackend({ ...harnessOptions(), path: 'in-memory', memoryBudgetBytes: 2048, openStore: stores.open });
    const store = stores.last();
    store.holdAnswers();
    const value = backend.getValueState(valueState<number>('v'));
    const map = backend.getMapState(mapState<string, number>('m'));
    const keys = ['k0', 'k1', 'k2', 'k3'];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key: fc.constantFrom(...keys), value: fc.integer({ min: 0, max: 99 }) }),
      fc.record({ kind: fc.constant('clear' as const), key: fc.constantFrom(...keys) }),
      fc.record({ kind: fc.constant('read' as const), key: fc.constantFrom(...keys) }),
      fc.record({ kind: fc.constant('evict' as const), key: fc.constantFrom(...keys) }),
      fc.record({ kind: fc.constant('flush' as const), key: fc.constantFrom(...keys) }),
      fc.record({ kind: fc.constant('prefetch' as const), key: fc.constantFrom(...keys) }),
      fc.record({ kind: fc.constant('answer' as const), key: fc.constantFrom(...keys), index: fc.nat() }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        run++;
        const keyOf = (key: string) => `${key}-${run}`;
        const model = new Map<string, number>();
        const check = (key: string) => {
          backend.setCurrentKey(keyOf(key));
          expect(value.value()).toBe(model.get(key));
          expect(map.get('x')).toBe(model.get(key));
        };
        for (const step of ops) {
          switch (step.kind) {
            case 'put':
              backend.setCurrentKey(keyOf(step.key));
              value.update(step.value);
              map.put('x', step.value);
              model.set(step.key, step.value);
              break;
            case 'clear':
              backend.setCurrentKey(keyOf(step.key));
              value.clear();
              map.remove('x');
              model.delete(step.key);
              break;
            case 'read':
              check(step.key);
              break;
            case 'evict':
              // Filler rows push everything else out of the 2 KiB cache (dirty rows are written back).
              for (let i = 0; i < 40; i++) {
                backend.setCurrentKey(`filler-${i}`);
                value.update(i);
              }
              break;
            case 'flush':
              backend.flushDirty();
              break;
            case 'prefetch': {
              backend.beginPrefetch();
              const keyGroup = assignToKeyGroup(keyOf(step.key), 16);
              backend.prefetchEntry('v', keyOf(step.key), keyGroup, VOID_NAMESPACE);
              backend.prefetchEntry('m', keyOf(step.key), keyGroup, VOID_NAMESPACE, 'x');
              void backend.endPrefetch();
              break;
            }
            case 'answer':
              // Answers arrive in any order, after whatever the task did meanwhile.
              if (store.heldCount > 0) store.releaseAnswer(step.index % store.heldCount);
              await settle();
              break;
          }
        }
        store.releaseAll();
        await settle();
        for (const key of keys) check(key);
      }),
      { numRuns: 300 },
    );
    store.releaseAll();
  });

  it('property: the same, against real RocksDB (answers in order, after the writes before them)', async () => {
    const backend = factory(2048)(harnessOptions());
    const value = backend.getValueState(valueState<number>('v'));
    let run = 0;
    const op = fc.oneof(
      fc.record({
        kind: fc.constantFrom('put' as const, 'evict' as const, 'prefetch' as const, 'await' as const, 'flush' as const, 'read' as const),
        value: fc.integer({ min: 0, max: 99 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 30, size: 'medium' }), async (ops) => {
        run++;
        const key = `key-${run}`;
        let expected: number | undefined;
        const inFlight: Array<Promise<void>> = [];
        for (const step of ops) {
          if (step.kind === 'put') {
            backend.setCurrentKey(key);
            value.update(step.value);
            expected = step.value;
          } else if (step.kind === 'evict') {
            for (let i = 0; i < 40; i++) {
              backend.setCurrentKey(`filler-${i}`);
              value.update(i);
            }
          } else if (step.kind === 'prefetch') {
            backend.beginPrefetch();
            backend.prefetchEntry('v', key, assignToKeyGroup(key, 16), VOID_NAMESPACE);
            const read = backend.endPrefetch();
            if (read !== undefined) inFlight.push(read);
          } else if (step.kind === 'flush') {
            backend.flushDirty();
          } else if (step.kind === 'read') {
            backend.setCurrentKey(key);
            expect(value.value()).toBe(expected);
          } else {
            await Promise.all(inFlight.splice(0));
          }
        }
        await Promise.all(inFlight);
        backend.setCurrentKey(key);
        expect(value.value()).toBe(expected);
      }),
      { numRuns: 150 },
    );
  });

  it('fires timers in order across heap spills and refills, exactly like an unbounded heap', () => {
    const small = factory(4096)(harnessOptions());
    const large = factory(64 * 1024 * 1024)(harnessOptions());
    const random = (seed: number) => () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const fired = (backend: RocksDBStateBackend): unknown[] => {
      const next = random(42);
      const queue = backend.getTimerQueue('t', testWindowCodec);
      const keys = keysInRange(new KeyGroupRange(0, 16), 16, 50);
      const added = new Set<string>();
      const out: unknown[] = [];
      for (let i = 0; i < 3_000; i++) {
        const key = keys[Math.floor(next() * keys.length)]!;
        const timestamp = Math.floor(next() * 500);
        backend.setCurrentKey(key);
        const id = `${timestamp}|${key}`;
        // A new timer answers true; a duplicate beyond the heap may too (written without a read).
        const isAdded = queue.add(timestamp, { start: 0, end: timestamp });
        if (!added.has(id)) expect(isAdded).toBe(true);
        added.add(id);
        if (next() < 0.1) {
          const removed = queue.remove(timestamp, { start: 0, end: timestamp });
          expect(removed).toBe(true);
          added.delete(id);
        }
        if (next() < 0.01) {
          // Fire a few, then keep adding (later and earlier timestamps).
          for (let j = 0; j < 10; j++) {
            const timer = queue.poll();
            if (timer === undefined) break;
            added.delete(`${timer.timestamp}|${String(timer.key)}`);
            out.push([timer.timestamp, timer.keyGroup, timer.key]);
          }
        }
        expect(queue.size).toBe(added.size);
      }
      const drained: Array<[number, number, unknown]> = [];
      for (let timer = queue.poll(); timer !== undefined; timer = queue.poll()) drained.push([timer.timestamp, timer.keyGroup, timer.key]);
      expect(queue.size).toBe(0);
      expect(drained.length).toBeGreaterThan(500);
      // The final drain is in firing order: timestamp, then key group.
      for (let i = 1; i < drained.length; i++) {
        const [t0, g0] = drained[i - 1]!;
        const [t1, g1] = drained[i]!;
        expect(t0 < t1 || (t0 === t1 && g0 <= g1)).toBe(true);
      }
      return [...out, ...drained];
    };
    const spilled = fired(small);
    expect(spilled).toEqual(fired(large));
    expect(small.metrics.blockingScans).toBeGreaterThan(3);
    expect(large.metrics.blockingScans).toBe(0);
  });

  it('round-trips 20k keys with a 64 KiB budget through snapshot ▶ restore into 2 subtasks', async () => {
    const maxParallelism = 128;
    const source = factory(64 * 1024)(harnessOptions({ maxParallelism, keyGroupRange: new KeyGroupRange(0, maxParallelism) }));
    const register = (backend: RocksDBStateBackend) => ({
      value: backend.getValueState(valueState<{ n: number }>('value')),
      list: backend.getListState(listState<number>('list')),
      map: backend.getMapState(mapState<string, number>('map')),
      timers: backend.getTimerQueue('timers', voidNamespaceCodec),
    });
    const keys = Array.from({ length: 20_000 }, (_, i) => i);
    const states = register(source);
    // In prefetched batches: a list append and a timer beyond the heap read their row first.
    for (let from = 0; from < keys.length; from += 32) {
      const batch = keys.slice(from, from + 32);
      source.beginPrefetch();
      for (const key of batch) {
        const keyGroup = assignToKeyGroup(key, maxParallelism);
        source.prefetchEntry('list', key, keyGroup, VOID_NAMESPACE);
        source.prefetchTimer('timers', key, keyGroup, key % 1_000, VOID_NAMESPACE);
      }
      await source.endPrefetch();
      for (const key of batch) {
        source.setCurrentKey(key);
        states.value.update({ n: key });
        states.list.add(key);
        states.list.add(key + 0.5);
        states.map.put('a', key);
        states.timers.add(key % 1_000, VOID_NAMESPACE);
      }
    }
    expect(source.metrics.misses).toBeLessThan(keys.length / 10);
    expect(source.metrics.evictions).toBeGreaterThan(10_000);
    const snapshot = source.snapshot();
    const entries = snapshot.keyGroups.reduce((n, group) => n + group.states.reduce((m, state) => m + state.entries.length, 0), 0);
    expect(entries).toBe(3 * keys.length);
    const seen = new Set<number>();
    for (let subtask = 0; subtask < 2; subtask++) {
      const range = computeKeyGroupRangeForOperatorIndex(maxParallelism, 2, subtask);
      const backend = factory(64 * 1024)(harnessOptions({ maxParallelism, subtask, keyGroupRange: range }));
      backend.restore([snapshot]);
      const restored = register(backend);
      const owned = keys.filter((key) => range.contains(assignToKeyGroup(key, maxParallelism)));
      // Read back in prefetched batches, as an operator would (a batch's rows must fit the 64 KiB cache).
      for (let from = 0; from < owned.length; from += 32) {
        const batch = owned.slice(from, from + 32);
        backend.beginPrefetch();
        for (const key of batch) {
          const keyGroup = assignToKeyGroup(key, maxParallelism);
          backend.prefetchEntry('value', key, keyGroup, VOID_NAMESPACE);
          backend.prefetchEntry('list', key, keyGroup, VOID_NAMESPACE);
          backend.prefetchEntry('map', key, keyGroup, VOID_NAMESPACE, 'a');
        }
        await backend.endPrefetch();
        for (const key of batch) {
          backend.setCurrentKey(key);
          expect(restored.value.value()).toEqual({ n: key });
          expect(restored.list.get()).toEqual([key, key + 0.5]);
          expect(restored.map.get('a')).toBe(key);
          seen.add(key);
        }
      }
      expect(restored.timers.size).toBe(owned.length);
      let last = -Infinity;
      let fired = 0;
      for (let timer = restored.timers.poll(); timer !== undefined; timer = restored.timers.poll()) {
        expect(timer.timestamp).toBeGreaterThanOrEqual(last);
        expect(timer.timestamp).toBe((timer.key as number) % 1_000);
        last = timer.timestamp;
        fired++;
      }
      expect(fired).toBe(owned.length);
      expect(backend.metrics.misses).toBeLessThan(owned.length / 10);
    }
    expect(seen.size).toBe(keys.length);
  });

  it('rejects a key-group range outside [0, maxParallelism) and a budget below 1 KiB', () => {
    expect(() => factory()(harnessOptions({ keyGroupRange: new KeyGroupRange(8, 20) }))).toThrow(/outside \[0, 16\)/);
    expect(() => factory(100)(harnessOptions())).toThrow(/memory budget.*1024/);
  });

  it('refuses to prefetch a state that is not its own', () => {
    const backend = factory()(harnessOptions());
    const other = factory()(harnessOptions());
    const foreign = other.getValueState(valueState<number>('v'));
    backend.beginPrefetch();
    expect(() => backend.prefetchEntry('v', 'k', 0, VOID_NAMESPACE)).toThrow(/state 'v' is not registered/);
    expect(() => backend.prefetchEntry(foreign, 'k', 0, VOID_NAMESPACE)).toThrow(/not registered with this backend/);
    expect(() => backend.prefetchTimer('nope', 'k', 0, 1, VOID_NAMESPACE)).toThrow(/timer queue 'nope'/);
  });

  it('rejects one name used both per window and outside windows', () => {
    const backend = factory()(harnessOptions());
    backend.getListState(listState<number>('both'));
    expect(() => backend.getPartitionedState(listState<number>('both'), testWindowCodec)).toThrow(/different names/);
  });

  it('names the state when a value cannot be stored', () => {
    const backend = factory()(harnessOptions());
    const state = backend.getValueState(valueState<unknown>('bad'));
    backend.setCurrentKey('k');
    state.update(Symbol('not data'));
    expect(() => backend.snapshot()).toThrow(/state 'bad'.*plain data/);
    expect(() => backend.flushDirty()).toThrow(/state 'bad'/);
    state.update('fixed');
    backend.flushDirty();
  });

  it('keeps values in RocksDB across eviction: Map, Date, bigint and plain objects keep their types', () => {
    const backend = factory(4096)(harnessOptions());
    const state = backend.getValueState(valueState<unknown>('typed'));
    const value = { map: new Map<unknown, unknown>([[1, { a: 1 }]]), date: new Date(5), big: 2n ** 70n, plain: { x: [1, 'y'] } };
    backend.setCurrentKey('k');
    state.update(value);
    for (let i = 0; i < 100; i++) {
      backend.setCurrentKey(`filler-${i}`);
      state.update(i);
    }
    backend.setCurrentKey('k');
    const missesBefore = backend.metrics.misses;
    const read = state.value() as typeof value;
    expect(backend.metrics.misses).toBe(missesBefore + 1);
    expect(read).not.toBe(value);
    expect(read).toEqual(value);
    expect(read.map).toBeInstanceOf(Map);
    expect(read.date).toBeInstanceOf(Date);
    expect(typeof read.big).toBe('bigint');
  });

  it('restores state registered with another TTL setting: a fresh expiry, or none', () => {
    const harness = new BackendHarness();
    const source = factory()(harness.options());
    const plain = source.getValueState(valueState<number>('p'));
    const ttl = stateTtl({ ttlMs: 100 });
    const expiring = source.getMapState(mapState<string, number>('e', { ttl }));
    source.setCurrentKey('k');
    plain.update(1);
    expiring.put('a', 2);
    const snapshot = source.snapshot();
    const restored = factory()(harness.options());
    restored.restore([snapshot]);
    const nowExpiring = restored.getValueState(valueState<number>('p', { ttl }));
    const nowPlain = restored.getMapState(mapState<string, number>('e'));
    restored.setCurrentKey('k');
    harness.clock.advance(99);
    expect(nowExpiring.value()).toBe(1);
    expect(nowPlain.get('a')).toBe(2);
    harness.clock.advance(1);
    expect(nowExpiring.value()).toBeUndefined();
    harness.clock.advance(1_000_000);
    expect(nowPlain.get('a')).toBe(2);
  });

  it('deletes expired rows when a snapshot finds them (background TTL cleanup)', () => {
    const harness = new BackendHarness();
    const stores = inMemoryStores();
    const backend = new RocksDBStateBackend({ ...harness.options(), path: 'in-memory', openStore: stores.open });
    const state = backend.getValueState(valueState<number>('ttl', { ttl: stateTtl({ ttlMs: 10 }) }));
    for (let i = 0; i < 10; i++) {
      backend.setCurrentKey(i);
      state.update(i);
    }
    backend.flushDirty();
    expect(stores.last().rows('s/ttl')).toBe(10);
    harness.clock.advance(10);
    expect(backend.snapshot().keyGroups).toEqual([]);
    expect(stores.last().rows('s/ttl')).toBe(0);
  });

  it('cleans expired rows incrementally, state by state, resuming where it stopped', () => {
    const harness = new BackendHarness();
    const stores = inMemoryStores();
    const backend = new RocksDBStateBackend({ ...harness.options(), path: 'in-memory', openStore: stores.open });
    const ttl = stateTtl({ ttlMs: 10 });
    const short = backend.getValueState(valueState<number>('short', { ttl }));
    const map = backend.getMapState(mapState<string, number>('map', { ttl }));
    backend.getValueState(valueState<number>('no-ttl'));
    for (let i = 0; i < 10; i++) {
      backend.setCurrentKey(i);
      short.update(i);
      map.put('a', i);
    }
    harness.clock.advance(5);
    backend.setCurrentKey(0);
    map.put('b', 0); // lives until 15
    backend.flushDirty();
    expect(backend.cleanupExpiredRows() + backend.cleanupExpiredRows()).toBe(0);
    harness.clock.advance(5);
    const store = stores.last();
    // 21 rows of two states, 4 per call: each call deletes at most 4; a full round deletes the 20 expired.
    const deleted = Array.from({ length: 8 }, () => backend.cleanupExpiredRows(4));
    expect(Math.max(...deleted)).toBe(4);
    expect(deleted.reduce((a, b) => a + b)).toBe(20);
    expect(store.rows('s/short')).toBe(0);
    expect(store.rows('s/map')).toBe(1);
    backend.setCurrentKey(0);
    expect(map.entries()).toEqual([['b', 0]]);
  });

  it('closes its store on dispose, writing what was dirty', () => {
    const stores = inMemoryStores();
    const backend = new RocksDBStateBackend({ ...harnessOptions(), path: 'in-memory', openStore: stores.open });
    const state = backend.getValueState(valueState<number>('v'));
    backend.setCurrentKey('k');
    state.update(1);
    backend.dispose();
    expect(stores.last().isClosed).toBe(true);
    expect(stores.last().rows('s/v')).toBe(1);
  });
});

describe('native restore: state kinds, schemas and row forms', () => {
  /** A native capture of `backend` as what a restore reads (the files where the capture left them). */
  async function capture(backend: RocksDBStateBackend, checkpointId: number): Promise<NativeKeyedStateRestore> {
    const snapshot = await backend.snapshotNative(checkpointId);
    return {
      format: snapshot.format,
      maxParallelism: snapshot.maxParallelism,
      keyGroupRange: snapshot.keyGroupRange,
      columnFamilies: snapshot.columnFamilies,
      states: snapshot.states,
      files: snapshot.files.map((file) => {
        const filePath = path.join(snapshot.dir, file.name);
        return { name: file.name, path: filePath, bytes: file.bytes, sha256: createHash('sha256').update(readFileSync(filePath)).digest('hex') };
      }),
    };
  }

  const options = (harness = new BackendHarness()): KeyedStateBackendOptions =>
    harness.options({ operatorUid: 'kinds', maxParallelism: 128, keyGroupRange: new KeyGroupRange(0, 128) });

  it('refuses a state registered as another kind than it was checkpointed as, and keeps the kinds of states not registered yet', async () => {
    const first = factory()(options());
    const counts = first.getValueState(valueState<number>('counts'));
    const tags = first.getListState(listState<string>('tags'));
    first.setCurrentKey('a');
    counts.update(7);
    tags.add('x');
    const checkpointed = await capture(first, 1);
    expect(checkpointed.states).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'counts', kind: 'value' }), expect.objectContaining({ name: 'tags', kind: 'list' })]));

    const second = factory()(options());
    second.restoreNative([checkpointed]);
    expect(() => second.getMapState(mapState<string, number>('counts'))).toThrow(
      "state 'counts' of operator 'kinds' was checkpointed as value state but is now registered as map state; keep its kind or give the new state another name",
    );
    const restoredCounts = second.getValueState(valueState<number>('counts'));
    second.setCurrentKey('a');
    expect(restoredCounts.value()).toBe(7);
    // 'tags' was not registered in this run: the next checkpoint still records it as list state.
    const again = await capture(second, 2);
    expect(again.states).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'counts', kind: 'value' }), expect.objectContaining({ name: 'tags', kind: 'list' })]));

    const third = factory()(options());
    third.restoreNative([again]);
    expect(() => third.getValueState(valueState<string>('tags'))).toThrow(/'tags' .* checkpointed as list state but is now registered as value state/);
  });
  it('records each state\'s row form and schema version', async () => {
    const first = factory()(options());
    first.getValueState(valueState<number>('plain'));
    first.getValueState(valueState<number>('expiring', { ttl: stateTtl({ ttlMs: 1_000 }), version: 3 }));
    const checkpointed = await capture(first, 1);
    expect(checkpointed.states).toEqual(
      expect.arrayContaining([
        { name: 'plain', kind: 'value', hasTtl: false, version: 1 },
        { name: 'expiring', kind: 'value', hasTtl: true, version: 3 },
      ]),
    );
  });

  it('checks restored rows against the schema the state registers with, naming the state and key group', async () => {
    const first = factory()(options());
    const loose = first.getValueState(valueState<unknown>('profile'));
    const scores = first.getMapState(mapState<string, unknown>('scores'));
    const [good, bad] = keysInRange(new KeyGroupRange(0, 128), 128, 2);
    first.setCurrentKey(good!);
    loose.update({ name: 'ok' });
    scores.put('math', 1);
    first.setCurrentKey(bad!);
    loose.update({ name: 42 });
    scores.put('art', 'four');
    const checkpointed = await capture(first, 1);

    const strict = factory()(options());
    strict.restoreNative([checkpointed]);
    const profile = valueState('profile', { schema: z.object({ name: z.string() }) });
    expect(() => strict.getValueState(profile)).toThrow(ConfigurationError);
    expect(() => strict.getValueState(profile)).toThrow(new RegExp(`state 'profile'.*key group ${assignToKeyGroup(bad, 128)}.*name`));
    expect(() => strict.getMapState(mapState('scores', { schema: z.number() }))).toThrow(/state 'scores'/);
    // A failed registration leaves the rows as they were: a schema that accepts them registers.
    const lenientScores = strict.getMapState(mapState('scores', { schema: z.union([z.number(), z.string()]) }));
    strict.setCurrentKey(bad!);
    expect(lenientScores.get('art')).toBe('four');
    const lenientProfile = strict.getValueState(valueState('profile', { schema: z.object({ name: z.union([z.string(), z.number()]) }) }));
    expect(lenientProfile.value()).toEqual({ name: 42 });
  });

  it('rewrites restored rows when the state\'s TTL setting changed: no TTL ▶ TTL (fresh expiry) and TTL ▶ none', async () => {
    const harness = new BackendHarness();
    const first = factory()(options(harness));
    const counts = first.getValueState(valueState<number>('counts'));
    const tags = first.getMapState(mapState<string, number>('tags', { ttl: stateTtl({ ttlMs: 500 }) }));
    first.setCurrentKey('a');
    counts.update(7);
    tags.put('x', 1);
    const checkpointed = await capture(first, 1);

    const second = factory()(options(harness));
    second.restoreNative([checkpointed]);
    const expiringCounts = second.getValueState(valueState<number>('counts', { ttl: stateTtl({ ttlMs: 1_000 }) }));
    const lastingTags = second.getMapState(mapState<string, number>('tags'));
    second.setCurrentKey('a');
    expect(expiringCounts.value()).toBe(7);
    expect(lastingTags.get('x')).toBe(1);
    // The rows written in the old form read back in the new one after another checkpoint and restore,
    // and the fresh expiry (registration time + 1 s) holds: the count expires, the tags do not.
    const again = await capture(second, 2);
    harness.clock.advance(5_000);
    const third = factory()(options(harness));
    third.restoreNative([again]);
    const thirdCounts = third.getValueState(valueState<number>('counts', { ttl: stateTtl({ ttlMs: 1_000 }) }));
    const thirdTags = third.getMapState(mapState<string, number>('tags'));
    third.setCurrentKey('a');
    expect(thirdCounts.value()).toBeUndefined();
    expect(thirdTags.get('x')).toBe(1);
  });
});
