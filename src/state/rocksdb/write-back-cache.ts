import { EddyError, describeError } from '../../core/errors.ts';
import type { RocksStore, RocksWrite } from './rocks-store.ts';

/**
 * The bounded write-back cache in front of a RocksDB store, in the task's thread. It holds *decoded*
 * rows — a state value, a map's cells, a timer's presence — so the hot path reads and writes plain
 * JavaScript values; RocksDB only sees rows when they are loaded (a prefetch or a blocking miss) and
 * when dirty rows are written back (evicted, or flushed for a snapshot).
 *
 * Structure: each {@link CacheOwner} (a state or a timer queue, one column family each) indexes its
 * own entries; this class holds what is global — the CLOCK ring over all entries, the byte budget,
 * the buffered writes and the metrics.
 *
 * Eviction is CLOCK (second chance): every access sets an entry's `isReferenced`; the hand clears set
 * bits and evicts the first entry whose bit is clear. It runs when an insert or a growth would exceed
 * the budget, before the new entry joins the ring (so the entry being worked on is never evicted by
 * its own insert). An evicted dirty entry's rows are appended to a write buffer, issued as one
 * `store.write` per {@link WRITE_BATCH_ROWS} rows — and always before any read, so that (requests of a
 * store run in order) a read never misses a write made before it.
 *
 * Stale prefetches: a prefetch read is answered after the task went on. Its answer is installed only
 * for rows that are not cached and were not written back since the prefetch was issued: owners record
 * the rows they write while prefetches are in flight ({@link recordWrite}), stamped with the latest
 * prefetch sequence number, and {@link isStale} compares.
 *
 * Invariants: `bytesCached` is the sum of the cached entries' `sizeBytes`; an entry is in the ring
 * (`slot ≥ 0`) exactly while its owner indexes it; a dirty entry is in its owner's dirty list; rows
 * written back are in the write buffer or issued, in the order they were written.
 */

/** Rows per issued write batch. */
const WRITE_BATCH_ROWS = 512;
/** Issued but unacknowledged write bytes above which the task waits for the store to catch up. */
const DEFAULT_MAX_WRITE_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

/** One cached row (or group of rows), as the cache sees it. Owners extend it with the row's content. */
export abstract class CacheEntry {
  /** Position in the CLOCK ring; −1 when not cached (evicted, or not yet inserted). */
  slot = -1;
  /** The second-chance bit: set on every access, cleared by the passing hand. */
  isReferenced = true;
  /** Holds changes not yet handed to the store. */
  isDirty = false;
  /** Estimated heap bytes of the entry and what it holds. */
  sizeBytes = 0;

  abstract readonly owner: CacheOwner;
}

/** A column family's side of the cache: its index of entries, and how its rows are written. */
export interface CacheOwner {
  readonly columnFamily: string;
  /** Removes an evicted entry from the owner's index. */
  detach(entry: CacheEntry): void;
  /** Appends the writes that persist a dirty entry to `writes`, marks it clean and records the write. */
  collectWrites(entry: CacheEntry, writes: RocksWrite[]): void;
  /** Collects the writes of every dirty entry of this owner. */
  collectDirty(writes: RocksWrite[]): void;
  /** Forgets writes recorded for stale-prefetch checks (no prefetch is in flight any more). */
  forgetRecordedWrites(): void;
}

/** Counters for monitoring; they only grow (except `bytesCached`). */
export interface StateCacheMetrics {
  /** Accesses answered from the cache. */
  hits: number;
  /** Accesses that had to wait for RocksDB (a blocking read of one or a few rows). */
  misses: number;
  /** Blocking range scans (complete map, key listing, timer refill, snapshot chunk). */
  blockingScans: number;
  /** Rows installed by prefetches. */
  prefetched: number;
  /** Prefetched rows dropped because the cache held them or they were written meanwhile. */
  prefetchDropped: number;
  /** Entries evicted. */
  evictions: number;
  /** Rows handed to the store in write batches (puts and deletes). */
  rowsWritten: number;
  /** Current estimated bytes of cached entries. */
  bytesCached: number;
}

/**
 * The shared cache of one backend (see the file comment). Not thread-safe: the task's thread only.
 */
export class WriteBackCache {
  readonly metrics: StateCacheMetrics = {
    hits: 0,
    misses: 0,
    blockingScans: 0,
    prefetched: 0,
    prefetchDropped: 0,
    evictions: 0,
    rowsWritten: 0,
    bytesCached: 0,
  };
  readonly budgetBytes: number;
  /** Sequence number of the latest prefetch issued; stamps recorded writes. */
  prefetchSeq = 0;
  /** Prefetches issued and not yet installed. */
  prefetchesInFlight = 0;

  private readonly store: RocksStore;
  private readonly describeStore: string;
  private readonly owners: CacheOwner[] = [];
  private ring: Array<CacheEntry | undefined> = [];
  private readonly freeSlots: number[] = [];
  private hand = 0;
  private writes: RocksWrite[] = [];
  private bytesInFlight = 0;
  private readonly maxWriteBytesInFlight: number;
  /** Writes up to this sequence number were acknowledged by a blocking barrier (their callbacks must not count again). */
  private issuedSeq = 0;
  private barrierSeq = 0;
  private failure: EddyError | undefined = undefined;

  constructor(store: RocksStore, budgetBytes: number, describeStore: string, maxWriteBytesInFlight = DEFAULT_MAX_WRITE_BYTES_IN_FLIGHT) {
    this.store = store;
    this.budgetBytes = budgetBytes;
    this.describeStore = describeStore;
    this.maxWriteBytesInFlight = maxWriteBytesInFlight;
  }

  register(owner: CacheOwner): void {
    this.owners.push(owner);
  }

  /** Forgets an owner that holds no entries (a state whose registration failed). */
  unregister(owner: CacheOwner): void {
    const index = this.owners.indexOf(owner);
    if (index >= 0) this.owners.splice(index, 1);
  }

  // ---- entries ----

  /** Adds `entry` (not cached yet) to the ring, evicting others first if it would not fit. */
  insert(entry: CacheEntry): void {
    const metrics = this.metrics;
    if (metrics.bytesCached + entry.sizeBytes > this.budgetBytes) this.evict(entry.sizeBytes, undefined);
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.ring.length;
      this.ring.push(entry);
    } else {
      this.ring[slot] = entry;
    }
    entry.slot = slot;
    entry.isReferenced = true;
    metrics.bytesCached += entry.sizeBytes;
  }

  /** Updates a cached entry's size; evicts other entries if it grew past the budget. */
  resize(entry: CacheEntry, sizeBytes: number): void {
    const delta = sizeBytes - entry.sizeBytes;
    entry.sizeBytes = sizeBytes;
    if (entry.slot < 0) return;
    const metrics = this.metrics;
    metrics.bytesCached += delta;
    if (delta > 0 && metrics.bytesCached > this.budgetBytes) this.evict(0, entry);
  }

  /** Drops a cached entry without writing it (its owner forgets it too). */
  remove(entry: CacheEntry): void {
    if (entry.slot < 0) return;
    this.ring[entry.slot] = undefined;
    this.freeSlots.push(entry.slot);
    entry.slot = -1;
    this.metrics.bytesCached -= entry.sizeBytes;
    entry.owner.detach(entry);
  }

  /**
   * Evicts entries until `incomingBytes` more fit in the budget. `keep` is spared. Gives up after two
   * turns of the hand (everything left is `keep`, or one entry is larger than the budget).
   */
  private evict(incomingBytes: number, keep: CacheEntry | undefined): void {
    const ring = this.ring;
    const metrics = this.metrics;
    const target = this.budgetBytes - incomingBytes;
    let steps = 2 * ring.length + 1;
    let hand = this.hand;
    while (metrics.bytesCached > target && steps-- > 0) {
      if (hand >= ring.length) hand = 0;
      const entry = ring[hand];
      if (entry === undefined || entry === keep) {
        hand++;
        continue;
      }
      if (entry.isReferenced) {
        entry.isReferenced = false;
        hand++;
        continue;
      }
      if (entry.isDirty) entry.owner.collectWrites(entry, this.writes);
      ring[hand] = undefined;
      this.freeSlots.push(hand);
      entry.slot = -1;
      metrics.bytesCached -= entry.sizeBytes;
      metrics.evictions++;
      entry.owner.detach(entry);
      hand++;
    }
    this.hand = hand;
    if (this.writes.length >= WRITE_BATCH_ROWS) this.issueWrites();
    // Many evicted entries leave many free slots: compact the ring when it is mostly empty.
    if (ring.length > 1024 && this.freeSlots.length > (ring.length >>> 1) + (ring.length >>> 2)) this.compactRing();
  }

  private compactRing(): void {
    const compacted: CacheEntry[] = [];
    for (const entry of this.ring) {
      if (entry === undefined) continue;
      entry.slot = compacted.length;
      compacted.push(entry);
    }
    this.ring = compacted;
    this.freeSlots.length = 0;
    this.hand = 0;
  }

  // ---- writes ----

  /** Appends rows to write (owners call it through {@link CacheOwner.collectWrites} or for restores). */
  get pendingWrites(): RocksWrite[] {
    return this.writes;
  }

  /** Appends one write; issues the buffer when it is full. */
  addWrite(write: RocksWrite): void {
    this.writes.push(write);
    if (this.writes.length >= WRITE_BATCH_ROWS) this.issueWrites();
  }

  /** Collects every dirty entry's writes and issues them (entries stay cached, now clean). */
  flushDirty(): void {
    this.checkFailure();
    for (const owner of this.owners) {
      owner.collectDirty(this.writes);
      if (this.writes.length >= WRITE_BATCH_ROWS) this.issueWrites();
    }
    this.issueWrites();
  }

  /** Hands the buffered writes to the store. Waits (blocking) when too many bytes are unacknowledged. */
  issueWrites(): void {
    this.checkFailure();
    const writes = this.writes;
    if (writes.length === 0) return;
    this.writes = [];
    let bytes = 0;
    for (const write of writes) {
      bytes += write.key.length + (write.kind === 'put' ? write.value.length : write.kind === 'delete-range' ? write.end.length : 0);
    }
    this.metrics.rowsWritten += writes.length;
    const seq = ++this.issuedSeq;
    this.bytesInFlight += bytes;
    this.store.write(writes).then(
      () => {
        if (seq > this.barrierSeq) this.bytesInFlight -= bytes;
      },
      (error: unknown) => {
        if (seq > this.barrierSeq) this.bytesInFlight -= bytes;
        this.failure ??= new EddyError(
          `RocksDB state in '${this.describeStore}': writing state back failed (${describeError(error)}); the state is ` +
            'unusable, restart from the last checkpoint',
          { domain: 'external', isRetriable: true, cause: error },
        );
      },
    );
    if (this.bytesInFlight > this.maxWriteBytesInFlight) this.waitForWrites(writes[0]!.columnFamily);
  }

  /**
   * Blocks until the store applied every issued write: a blocking request queued behind them returns
   * only after they ran. Backpressure for write-heavy work that never reads.
   */
  private waitForWrites(columnFamily: string): void {
    this.store.multiGetSync(columnFamily, []);
    this.barrierSeq = this.issuedSeq;
    this.bytesInFlight = 0;
  }

  /** Issues buffered writes so that a read made next sees them; throws an earlier write failure. */
  beforeRead(): void {
    if (this.writes.length > 0) this.issueWrites();
    else this.checkFailure();
  }

  checkFailure(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  // ---- prefetch bookkeeping ----

  /** Starts a prefetch: returns its sequence number (for {@link isStale}). Buffered writes are issued first. */
  beginPrefetchRead(): number {
    this.beforeRead();
    this.prefetchesInFlight++;
    return ++this.prefetchSeq;
  }

  /** A prefetch was installed (or failed): when none is left in flight, owners drop recorded writes. */
  endPrefetchRead(): void {
    this.prefetchesInFlight--;
    if (this.prefetchesInFlight === 0) {
      for (const owner of this.owners) owner.forgetRecordedWrites();
    }
  }

  /** Whether owners must record the rows they write (a prefetch is in flight). */
  get isRecordingWrites(): boolean {
    return this.prefetchesInFlight > 0;
  }

  /** Whether a row recorded as written at `writtenAtSeq` (undefined: not written) makes prefetch `prefetchSeq` stale. */
  static isStale(writtenAtSeq: number | undefined, prefetchSeq: number): boolean {
    return writtenAtSeq !== undefined && writtenAtSeq >= prefetchSeq;
  }

  /** Drops every entry (dispose); dirty ones are lost. */
  clear(): void {
    for (const entry of this.ring) {
      if (entry === undefined) continue;
      entry.slot = -1;
      entry.owner.detach(entry);
    }
    this.ring = [];
    this.freeSlots.length = 0;
    this.hand = 0;
    this.metrics.bytesCached = 0;
  }
}

/**
 * A cheap estimate of the heap bytes a decoded value holds, for the cache budget: objects and arrays
 * are sampled (first element times length; up to 8 properties), two levels deep. With the per-entry
 * overheads of the owners, within 0.8–1.25 of the real heap for typical state (numbers, short strings,
 * small records, lists of those, map cells): test/state/rocksdb/cache-size-estimate.test.ts.
 */
export function estimateValueBytes(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'undefined':
      return 8;
    case 'string':
      return 16 + value.length;
    case 'bigint':
      return 24;
    case 'object': {
      if (value === null) return 8;
      if (depth >= 2) return 64;
      if (Array.isArray(value)) {
        const length = value.length;
        return length === 0 ? 32 : 32 + length * (8 + estimateValueBytes(value[0], depth + 1));
      }
      if (value instanceof Map) {
        let first = 0;
        for (const [key, item] of value) {
          first = estimateValueBytes(key, depth + 1) + estimateValueBytes(item, depth + 1);
          break;
        }
        return 64 + value.size * (32 + first);
      }
      // A plain object: a 24-byte header and an 8-byte slot per (in-object) property.
      let bytes = 24;
      let count = 0;
      for (const name in value) {
        if (count++ === 8) {
          bytes *= 2;
          break;
        }
        bytes += 8 + estimateValueBytes((value as Record<string, unknown>)[name], depth + 1);
      }
      return bytes;
    }
    default:
      return 32;
  }
}
