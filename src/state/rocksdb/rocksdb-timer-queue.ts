import { EddyError } from '../../core/errors.ts';
import { keyIdOf, type KeyId } from '../../core/key-codec.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import { IndexedMinHeap } from '../indexed-heap.ts';
import type { NamespaceCodec, Timer, TimerQueue, TimerSnapshot } from '../keyed-state-backend.ts';
import { latin1, ROWS_START, RowKeyReader, TIMER_ROWS_END, successor } from './key-layout.ts';
import type { RocksWrite } from './rocks-store.ts';
import type { RocksStateContext } from './rocksdb-kv-state.ts';
import { scanRowsSync } from './state-rows.ts';
import { CacheEntry, WriteBackCache, type CacheOwner } from './write-back-cache.ts';

/** The column family of timer queue `name`. */
export function timerColumnFamily(name: string): string {
  return `t/${name}`;
}

/** Timers read per refill of the heap. */
const REFILL_ROWS = 1024;
/** `bound` when the heap holds every timer. Sorts after every latin1 row id. */
const ALL = '\uffff';
/** `bound` when the heap holds no stored timer range yet. Sorts before every row id. */
const NONE = '';
/**
 * Estimated bytes of a cached timer row besides its id: the object, its slots in the queue's Map of
 * rows, the CLOCK ring and the dirty list (the same accounting as a state entry's).
 */
const ROW_ENTRY_BYTES = 180;

/** A timer in the heap. `id` is its row key as latin1 (one char per byte): it orders timers exactly as RocksDB does. */
class HeapTimer<N> implements Timer<N> {
  heapIndex = -1;

  constructor(
    readonly timestamp: number,
    readonly key: unknown,
    readonly namespace: N,
    readonly keyGroup: number,
    readonly id: string,
    readonly keyId: KeyId,
    readonly namespaceId: string | number,
    /** Also a row in RocksDB (read by a refill, or persisted for a checkpoint): removing it from the heap deletes the row. */
    public isStored: boolean,
  ) {}
}

/** Firing order: timestamp, then the row key bytes (key group, key, namespace). */
function isBefore(a: HeapTimer<unknown>, b: HeapTimer<unknown>): boolean {
  return a.timestamp !== b.timestamp ? a.timestamp < b.timestamp : a.id < b.id;
}

/** A cached timer row: whether RocksDB holds (or will hold) the timer `id`. */
class TimerRowEntry extends CacheEntry {
  isPresent = false;

  constructor(
    readonly owner: RocksTimerQueue<unknown>,
    readonly id: string,
  ) {
    super();
    this.sizeBytes = ROW_ENTRY_BYTES + id.length;
  }
}

/**
 * A {@link TimerQueue} in RocksDB: one row per timer in its own column family, keyed
 * `[timestamp][keyGroup][key][namespace]` with an empty value, so RocksDB keeps timers in firing order
 * (timestamp, then key group, then key and namespace bytes — deterministic, and the same after a restore).
 *
 * In memory, a min-heap holds every timer whose row key is ≤ `bound` (the heap is complete up to
 * there; `bound` = everything for a queue that never spilled): adding, removing, peeking and polling
 * such timers is a heap operation with no I/O. Timers beyond the bound exist only as rows, reached
 * through the write-back cache: `add` of an uncached row writes it without reading (a row is
 * idempotent); `remove` uses the cached row or reads it, blocking — unless the operator prefetched it.
 * When the heap grows past `maxHeapTimers` its later half is written out as rows and the bound moves
 * down (a spill); when it runs empty and rows may remain, the next {@link REFILL_ROWS} rows are read
 * with one blocking scan (a refill). `size` is exact: counted as timers come and go, and after blind
 * adds counted once more from the rows when asked.
 *
 * Invariants: the heap holds exactly the timers with id ≤ bound; a heap timer marked `isStored` also
 * has a row (deleted when the timer leaves the heap); the logical rows beyond the bound are RocksDB's
 * rows overlaid by the cached row entries.
 */
export class RocksTimerQueue<N> implements TimerQueue<N>, CacheOwner {
  readonly columnFamily: string;
  private readonly heap = new IndexedMinHeap<HeapTimer<N>>(isBefore);
  private readonly heapIds = new Map<string, HeapTimer<N>>();
  /** Every timer with a row key ≤ bound is in the heap. */
  private bound: string;
  /** The number of timers, while {@link isCountKnown}. */
  private count: number;
  /** False after a blind add (a row written without knowing whether it existed): `count` may be high. */
  private isCountKnown = true;
  private readonly rows = new Map<string, TimerRowEntry>();
  private dirty: TimerRowEntry[] = [];
  private dirtyCount = 0;
  private readonly writtenAt = new Map<string, number>();
  /**
   * Per key, the heap timer it added last: a repeated registration (a window's end timer, once per
   * record of the window) is answered without building the timer's row key. Entries leave with their
   * timers, so this holds at most the heap's size.
   */
  private readonly lastAddedByKey = new Map<KeyId, HeapTimer<N>>();
  private readonly reader = new RowKeyReader();
  private prefetchIds: string[] = [];
  private prefetchSeen: Set<string> | undefined = undefined;

  constructor(
    readonly name: string,
    readonly namespaceCodec: NamespaceCodec<N>,
    private readonly context: RocksStateContext,
    private readonly maxHeapTimers: number,
    /** Timers already stored as rows (restored before registration); 0 for a new queue. */
    storedCount: number,
  ) {
    this.columnFamily = timerColumnFamily(name);
    this.count = storedCount;
    this.bound = storedCount === 0 ? ALL : NONE;
    context.cache.register(this);
  }

  /** Exact; after blind adds, counted once with a blocking scan of the rows. */
  get size(): number {
    if (!this.isCountKnown) this.countRows();
    return this.count;
  }

  add(timestamp: number, namespace: N): boolean {
    const current = this.context.current;
    return this.addForKey(timestamp, current.key, current.keyId, current.requireKeyGroup(`timer queue ${this.name}`), namespace);
  }

  /** Adds a timer for an explicit key (restore). `keyId` must be `keyIdOf(key)`. */
  addForKey(timestamp: number, key: unknown, keyId: KeyId, keyGroup: number, namespace: N): boolean {
    const namespaceId = this.namespaceCodec.idOf(namespace);
    const last = this.lastAddedByKey.get(keyId);
    if (last !== undefined && last.heapIndex >= 0 && last.timestamp === timestamp && last.namespaceId === namespaceId) return false;
    const id = this.idOf(timestamp, keyGroup, key, namespace);
    if (id <= this.bound) {
      const existing = this.heapIds.get(id);
      if (existing !== undefined) {
        this.lastAddedByKey.set(keyId, existing);
        return false;
      }
      const timer = new HeapTimer<N>(timestamp, key, namespace, keyGroup, id, keyId, namespaceId, false);
      this.heapIds.set(id, timer);
      this.heap.push(timer);
      this.count++;
      this.lastAddedByKey.set(keyId, timer);
      if (this.heap.length > this.maxHeapTimers) this.spill();
      return true;
    }
    const row = this.rows.get(id);
    if (row === undefined) {
      // Not cached: write the row blindly (a row is idempotent) rather than read whether it exists — a
      // blocking read per timer made a job whose heap had spilled wait on RocksDB for every record
      // (Flink's RocksDB timer set writes blindly too). The size is now unknown until asked.
      this.setRow(this.rowFor(id, false), true);
      this.isCountKnown = false;
      return true;
    }
    this.context.cache.metrics.hits++;
    row.isReferenced = true;
    if (row.isPresent) return false;
    this.setRow(row, true);
    this.count++;
    return true;
  }

  remove(timestamp: number, namespace: N): boolean {
    const current = this.context.current;
    const keyGroup = current.requireKeyGroup(`timer queue ${this.name}`);
    const id = this.idOf(timestamp, keyGroup, current.key, namespace);
    if (id <= this.bound) {
      const timer = this.heapIds.get(id);
      if (timer === undefined) return false;
      this.removeAt(timer.heapIndex);
      return true;
    }
    const row = this.rowFor(id, true);
    if (!row.isPresent) return false;
    this.setRow(row, false);
    this.count--;
    return true;
  }

  peek(): Timer<N> | undefined {
    if (this.heap.length === 0 && this.bound !== ALL) this.refill();
    return this.heap.peek();
  }

  poll(): Timer<N> | undefined {
    if (this.heap.length === 0) {
      if (this.bound === ALL) return undefined;
      this.refill();
      if (this.heap.length === 0) return undefined;
    }
    return this.removeAt(0);
  }

  /** The row key of a timer, as latin1. */
  private idOf(timestamp: number, keyGroup: number, key: unknown, namespace: N): string {
    return this.context.rowKeys.beginTimer(timestamp, keyGroup, key).namespace(this.namespaceCodec.toPlain(namespace)).latin1();
  }

  // ---- heap ----

  /** Removes the heap timer at `index` (and its row, if stored). */
  private removeAt(index: number): HeapTimer<N> {
    const removed = this.heap.removeAt(index);
    this.heapIds.delete(removed.id);
    if (this.lastAddedByKey.get(removed.keyId) === removed) this.lastAddedByKey.delete(removed.keyId);
    this.count--;
    if (removed.isStored) this.setRow(this.rowFor(removed.id, false), false);
    return removed;
  }

  /**
   * Gives every heap timer that lives only in memory its row (written with the next flush of dirty
   * entries), so that a native checkpoint — which holds only what RocksDB holds — contains every timer.
   * Only timers added since the last call are written; from then on removing one deletes its row.
   */
  persistHeap(): void {
    for (const timer of this.heap.values()) {
      if (timer.isStored) continue;
      timer.isStored = true;
      this.setRow(this.rowFor(timer.id, false), true);
    }
  }

  /**
   * Moves the later half of the heap out to rows and lowers the bound to the last timer kept.
   * O(n log n) for n timers, once per n/2 adds: amortized O(log n) per add.
   */
  private spill(): void {
    const sorted = this.heap.sorted();
    const keep = sorted.length >> 1;
    for (let i = keep; i < sorted.length; i++) {
      const timer = sorted[i]!;
      timer.heapIndex = -1;
      this.heapIds.delete(timer.id);
      if (this.lastAddedByKey.get(timer.keyId) === timer) this.lastAddedByKey.delete(timer.keyId);
      if (!timer.isStored) this.setRow(this.rowFor(timer.id, false), true);
    }
    sorted.length = keep;
    this.heap.replaceWithSorted(sorted);
    this.bound = keep === 0 ? NONE : sorted[keep - 1]!.id;
  }

  /** Counts the timers: the rows (after writing back this queue's dirty ones) and the heap's timers that have none. */
  private countRows(): void {
    const cache = this.context.cache;
    this.collectDirty(cache.pendingWrites);
    cache.beforeRead();
    let rows = 0;
    cache.metrics.blockingScans += scanRowsSync(this.context.store, this.columnFamily, ROWS_START, TIMER_ROWS_END, () => void rows++);
    let heapOnly = 0;
    for (const timer of this.heap.values()) if (!timer.isStored) heapOnly++;
    this.count = rows + heapOnly;
    this.isCountKnown = true;
  }

  /** Reads the next rows beyond the bound into the (empty) heap: one blocking scan. */
  private refill(): void {
    const cache = this.context.cache;
    // Rows written only in the cache must be in RocksDB before the scan.
    this.collectDirty(cache.pendingWrites);
    cache.beforeRead();
    const gte = this.bound === NONE ? ROWS_START : successor(Buffer.from(this.bound, 'latin1'));
    const { keys } = this.context.store.scanSync({ columnFamily: this.columnFamily, gte, lt: TIMER_ROWS_END, limit: REFILL_ROWS });
    cache.metrics.blockingScans++;
    // Rows come in key order, which is heap order.
    const timers = keys.map((rowKey) => this.timerFromRow(rowKey));
    for (const timer of timers) this.heapIds.set(timer.id, timer);
    this.heap.replaceWithSorted(timers);
    this.bound = keys.length < REFILL_ROWS ? ALL : latin1(keys[keys.length - 1]!);
  }

  private timerFromRow(rowKey: Uint8Array): HeapTimer<N> {
    const reader = this.reader.readTimer(rowKey);
    const key = reader.key();
    const namespace = this.namespaceCodec.fromPlain(reader.namespacePlain());
    const id = latin1(rowKey);
    const namespaceId = this.namespaceCodec.idOf(namespace);
    return new HeapTimer<N>(reader.timestampMs, key, namespace, reader.keyGroup, id, keyIdOf(key), namespaceId, true);
  }

  // ---- rows (the write-back cache) ----

  /** The cached row entry of `id`; on a miss read it (blocking) when `isRead`, else create it for a write. */
  private rowFor(id: string, isRead: boolean): TimerRowEntry {
    const cache = this.context.cache;
    let row = this.rows.get(id);
    if (row !== undefined) {
      if (isRead) cache.metrics.hits++;
      row.isReferenced = true;
      return row;
    }
    row = new TimerRowEntry(this as RocksTimerQueue<unknown>, id);
    if (isRead) {
      cache.beforeRead();
      const [bytes] = this.context.store.multiGetSync(this.columnFamily, [Buffer.from(id, 'latin1')]);
      cache.metrics.misses++;
      row.isPresent = bytes !== null && bytes !== undefined;
    } else {
      this.markDirty(row);
    }
    this.rows.set(id, row);
    cache.insert(row);
    return row;
  }

  private setRow(row: TimerRowEntry, isPresent: boolean): void {
    row.isPresent = isPresent;
    this.markDirty(row);
  }

  private markDirty(row: TimerRowEntry): void {
    if (row.isDirty) return;
    row.isDirty = true;
    this.dirtyCount++;
    this.dirty.push(row);
    // Rows cleaned by eviction stay in the list until the next flush; drop them when they pile up.
    if (this.dirty.length > 1024 && this.dirty.length > 4 * this.dirtyCount) this.dirty = this.dirty.filter((each) => each.isDirty);
  }

  detach(entry: CacheEntry): void {
    this.rows.delete((entry as TimerRowEntry).id);
  }

  collectWrites(entry: CacheEntry, writes: RocksWrite[]): void {
    const row = entry as TimerRowEntry;
    const key = Buffer.from(row.id, 'latin1');
    const columnFamily = this.columnFamily;
    writes.push(row.isPresent ? { kind: 'put', columnFamily, key, value: EMPTY } : { kind: 'delete', columnFamily, key });
    row.isDirty = false;
    this.dirtyCount--;
    const cache = this.context.cache;
    if (cache.isRecordingWrites) this.writtenAt.set(row.id, cache.prefetchSeq);
  }

  collectDirty(writes: RocksWrite[]): void {
    for (const row of this.dirty) if (row.isDirty) this.collectWrites(row, writes);
    this.dirty = [];
  }

  forgetRecordedWrites(): void {
    if (this.writtenAt.size > 0) this.writtenAt.clear();
  }

  // ---- prefetch ----

  /** Adds the row of a timer `add`/`remove` will touch to the prefetch being assembled, unless the heap or cache answers it. */
  requestPrefetch(key: unknown, keyGroup: number, timestamp: number, namespace: N): void {
    // A queue that never spilled holds every timer in its heap: nothing to read (and no row key to build).
    if (this.bound === ALL) return;
    const id = this.idOf(timestamp, keyGroup, key, namespace);
    if (id <= this.bound) return;
    const row = this.rows.get(id);
    if (row !== undefined) {
      row.isReferenced = true;
      return;
    }
    const seen = (this.prefetchSeen ??= new Set());
    if (seen.has(id)) return;
    seen.add(id);
    this.prefetchIds.push(id);
  }

  issuePrefetch(): Promise<void> | undefined {
    const ids = this.prefetchIds;
    if (ids.length === 0) return undefined;
    this.prefetchIds = [];
    this.prefetchSeen = undefined;
    const cache = this.context.cache;
    const seq = cache.beginPrefetchRead();
    const keys = ids.map((id) => Buffer.from(id, 'latin1'));
    return this.context.store.multiGet(this.columnFamily, keys).then(
      (values) => {
        try {
          this.installPrefetched(ids, values, seq);
        } finally {
          cache.endPrefetchRead();
        }
      },
      (error: unknown) => {
        cache.endPrefetchRead();
        throw error;
      },
    );
  }

  private installPrefetched(ids: readonly string[], values: ReadonlyArray<Uint8Array | null>, seq: number): void {
    const cache = this.context.cache;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (this.rows.has(id) || WriteBackCache.isStale(this.writtenAt.get(id), seq)) {
        cache.metrics.prefetchDropped++;
        continue;
      }
      const row = new TimerRowEntry(this as RocksTimerQueue<unknown>, id);
      row.isPresent = values[i] !== null && values[i] !== undefined;
      this.rows.set(id, row);
      cache.insert(row);
      cache.metrics.prefetched++;
    }
  }

  // ---- snapshots ----

  /**
   * The timers of each key group of `range` as snapshot data, indexed by `keyGroup − range.start`, in
   * firing order: the heap's, then the rows beyond the bound (one blocking scan per chunk). Dirty rows
   * must have been flushed.
   */
  snapshotByKeyGroup(range: KeyGroupRange): Array<TimerSnapshot[] | undefined> {
    const byKeyGroup = new Array<TimerSnapshot[] | undefined>(range.size);
    const push = (keyGroup: number, timer: TimerSnapshot): void => {
      if (!range.contains(keyGroup)) {
        throw new EddyError(`timer queue '${this.name}' holds a timer of key group ${keyGroup}, outside ${range}`);
      }
      (byKeyGroup[keyGroup - range.start] ??= []).push(timer);
    };
    for (const timer of this.heap.sorted()) {
      push(timer.keyGroup, [timer.timestamp, timer.key, this.namespaceCodec.toPlain(timer.namespace)]);
    }
    if (this.bound !== ALL) {
      const gte = this.bound === NONE ? ROWS_START : successor(Buffer.from(this.bound, 'latin1'));
      const reader = this.reader;
      this.context.cache.metrics.blockingScans += scanRowsSync(this.context.store, this.columnFamily, gte, TIMER_ROWS_END, (rowKey) => {
        reader.readTimer(rowKey);
        push(reader.keyGroup, [reader.timestampMs, reader.key(), reader.namespacePlain()]);
      });
    }
    return byKeyGroup;
  }

  dispose(): void {
    this.heap.clear();
    this.heapIds.clear();
    this.rows.clear();
    this.dirty = [];
    this.writtenAt.clear();
    this.lastAddedByKey.clear();
  }
}

const EMPTY = new Uint8Array(0);
