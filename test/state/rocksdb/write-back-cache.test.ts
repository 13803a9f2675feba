import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RocksWrite } from '../../../src/state/rocksdb/rocks-store.ts';
import { openRocksStoreSync } from '../../../src/state/rocksdb/store/rocks-store-client.ts';
import { CacheEntry, estimateValueBytes, WriteBackCache, type CacheOwner } from '../../../src/state/rocksdb/write-back-cache.ts';
import { InMemoryRocksStore } from './in-memory-rocks-store.ts';

/** A cache owner whose entries are single rows named by a string, for driving the cache directly. */
class TestOwner implements CacheOwner {
  readonly columnFamily = 's/test';
  readonly entries = new Map<string, TestEntry>();
  readonly detached: string[] = [];

  constructor(private readonly cache: WriteBackCache) {
    cache.register(this);
  }

  add(name: string, sizeBytes: number, isDirty = false): TestEntry {
    const entry = new TestEntry(this, name);
    entry.sizeBytes = sizeBytes;
    entry.isDirty = isDirty;
    this.entries.set(name, entry);
    this.cache.insert(entry);
    return entry;
  }

  detach(entry: CacheEntry): void {
    const name = (entry as TestEntry).name;
    this.entries.delete(name);
    this.detached.push(name);
  }

  collectWrites(entry: CacheEntry, writes: RocksWrite[]): void {
    writes.push({ kind: 'put', columnFamily: this.columnFamily, key: Buffer.from((entry as TestEntry).name), value: new Uint8Array(100) });
    entry.isDirty = false;
  }

  collectDirty(writes: RocksWrite[]): void {
    for (const entry of this.entries.values()) if (entry.isDirty) this.collectWrites(entry, writes);
  }

  forgetRecordedWrites(): void {}
}

class TestEntry extends CacheEntry {
  constructor(
    readonly owner: TestOwner,
    readonly name: string,
  ) {
    super();
  }
}

const root = mkdtempSync(path.join(tmpdir(), 'eddy-write-back-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('WriteBackCache', () => {
  it('evicts by CLOCK: a referenced entry gets a second chance, an unreferenced one goes first', () => {
    const store = new InMemoryRocksStore({ path: 'memory', columnFamilies: ['s/test'] });
    const cache = new WriteBackCache(store, 300, 'memory');
    const owner = new TestOwner(cache);
    for (const name of ['a', 'b', 'c']) owner.add(name, 100);
    // A full turn of the hand clears every bit; then 'a' goes. Touching 'b' spares it next time.
    owner.add('d', 100);
    expect(owner.detached).toEqual(['a']);
    owner.entries.get('b')!.isReferenced = true;
    owner.add('e', 100);
    expect(owner.detached).toEqual(['a', 'c']);
    expect(cache.metrics.bytesCached).toBe(300);
    expect(cache.metrics.evictions).toBe(2);
  });

  it('writes evicted dirty entries in batches, before any read, and drops clean ones silently', () => {
    const store = new InMemoryRocksStore({ path: 'memory', columnFamilies: ['s/test'] });
    const cache = new WriteBackCache(store, 1_000, 'memory');
    const owner = new TestOwner(cache);
    for (let i = 0; i < 30; i++) owner.add(`k${i}`, 100, i % 2 === 0);
    expect(cache.metrics.evictions).toBe(20);
    expect(store.requests.write).toBe(0); // buffered: fewer rows than a batch
    cache.beforeRead();
    expect(store.requests.write).toBe(1);
    expect(store.rows('s/test')).toBe(10);
    cache.flushDirty();
    expect(store.rows('s/test')).toBe(15);
    expect(cache.metrics.rowsWritten).toBe(15);
  });

  it('grows an entry past the budget by evicting others, never the entry itself', () => {
    const store = new InMemoryRocksStore({ path: 'memory', columnFamilies: ['s/test'] });
    const cache = new WriteBackCache(store, 500, 'memory');
    const owner = new TestOwner(cache);
    const big = owner.add('big', 100);
    for (let i = 0; i < 4; i++) owner.add(`k${i}`, 100);
    cache.resize(big, 450);
    expect(owner.entries.has('big')).toBe(true);
    expect(cache.metrics.bytesCached).toBeLessThanOrEqual(550);
    // Larger than the whole budget: everything else goes, the entry stays.
    cache.resize(big, 10_000);
    expect([...owner.entries.keys()]).toEqual(['big']);
  });

  it('waits for a real store to catch up when too many written bytes are unacknowledged', () => {
    const store = openRocksStoreSync({ path: path.join(root, 'backpressure'), columnFamilies: ['s/test'] });
    let barriers = 0;
    const counting = new Proxy(store, {
      get(target, property) {
        if (property === 'multiGetSync') {
          return (columnFamily: string, keys: readonly Uint8Array[]) => {
            if (keys.length === 0) barriers++;
            return target.multiGetSync(columnFamily, keys);
          };
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    try {
      const cache = new WriteBackCache(counting, 1_000, store.path, 4_096);
      const owner = new TestOwner(cache);
      for (let i = 0; i < 2_000; i++) owner.add(`key-${i}`, 100, true);
      cache.flushDirty();
      // Each batch of 512 rows is ≈ 55 KiB > 4 KiB in flight: the task waited after each.
      expect(barriers).toBe(4);
      expect(store.scanSync({ columnFamily: 's/test', gte: new Uint8Array(0), lt: Uint8Array.of(0xff) }).keys).toHaveLength(2_000);
    } finally {
      store.closeSync();
    }
  });
});

describe('estimateValueBytes', () => {
  it('grows with strings, arrays, maps and records, and stays cheap on deep values', () => {
    expect(estimateValueBytes(1)).toBe(8);
    expect(estimateValueBytes('x'.repeat(100))).toBeGreaterThan(estimateValueBytes('x'));
    expect(estimateValueBytes(Array.from({ length: 100 }, (_, i) => i))).toBeGreaterThan(800);
    expect(estimateValueBytes(new Map([[1, 'a'], [2, 'b']]))).toBeGreaterThan(estimateValueBytes(new Map()));
    expect(estimateValueBytes({ a: 1, b: 'two' })).toBeGreaterThan(estimateValueBytes({}));
    const deep = { a: { b: { c: { d: { e: 1 } } } } };
    expect(estimateValueBytes(deep)).toBeLessThan(1_000);
  });
});
