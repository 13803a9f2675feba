import type { KeyId } from '../../core/key-codec.ts';
import { saturatingAdd } from '../../core/time.ts';
import type { StateDescriptor } from '../descriptors.ts';
import type { NamespaceCodec } from '../keyed-state-backend.ts';
import type { RocksWrite } from './rocks-store.ts';
import { KeyedEntry, RocksKvState, type PrefetchTarget, type RocksStateContext } from './rocksdb-kv-state.ts';
import { decodeRow, encodeRow, type DecodedRow } from './state-rows.ts';
import { estimateValueBytes } from './write-back-cache.ts';

/** One (key, namespace) row of a single-row state, cached: its value or its known absence. */
export class RowEntry extends KeyedEntry {
  isPresent = false;
  value: unknown = undefined;
  /** +∞ without TTL. */
  expiresAtMs = Number.POSITIVE_INFINITY;
}

/** What {@link RocksRowState.readValue} returns for a missing (or expired and hidden) value. */
export const NONE: unique symbol = Symbol('none');

const decoded: DecodedRow = { value: undefined, expiresAtMs: 0 };

/**
 * The RocksDB form of value, list, reducing and aggregating state: one row per (key, namespace) whose
 * value is the whole stored representation (a list is one msgpack array: rocksdb-native has no merge
 * operator, so an append is a read-modify-write — of the cached, decoded list, so it costs an array
 * push; the list is encoded once when written back).
 *
 * Reads go through the cache; a miss reads the row with a blocking multi-get and caches the value or
 * its absence. Writes never read: a write (or a clear) of an uncached row just caches the new value as
 * dirty. TTL is per row, with the memory backend's semantics (see `MemoryKvState`); expired rows are
 * removed on access and skipped (and deleted) by snapshots.
 */
export abstract class RocksRowState<N> extends RocksKvState<N> {
  /** The entry of the latest access: a record's read-then-write finds it without a lookup. */
  private lastEntry: RowEntry | undefined = undefined;

  constructor(descriptor: StateDescriptor, namespaceCodec: NamespaceCodec<N>, context: RocksStateContext) {
    super(descriptor, namespaceCodec, context);
  }

  getInternal(): unknown {
    const value = this.readValue(this.namespace, this.namespaceId);
    return value === NONE ? undefined : value;
  }

  /** `undefined` clears the entry. */
  updateInternal(value: unknown): void {
    if (value === undefined) this.removeValue(this.namespace, this.namespaceId);
    else this.writeValue(this.namespace, this.namespaceId, value);
  }

  clear(): void {
    this.removeValue(this.namespace, this.namespaceId);
  }

  override mergeNamespaces(target: N, sources: readonly N[]): void {
    this.checkCanMerge();
    const targetId = this.namespaceCodec.idOf(target);
    let merged: unknown = undefined;
    let hasMerged = false;
    for (const source of sources) {
      const sourceId = this.namespaceCodec.idOf(source);
      if (sourceId === targetId) continue;
      const value = this.readValue(source, sourceId);
      if (value === NONE) continue;
      this.removeValue(source, sourceId);
      merged = hasMerged ? this.mergeValues(merged, value) : value;
      hasMerged = true;
    }
    if (!hasMerged) return;
    const targetValue = this.readValue(target, targetId);
    this.writeValue(target, targetId, targetValue === NONE ? merged : this.mergeValues(targetValue, merged));
  }

  /** Throws unless this state can merge namespaces (checked before any merge, whatever the data). */
  protected checkCanMerge(): void {
    throw this.cannotMerge();
  }

  /** Combines two stored values when namespaces merge (Flink's order: `merge(target, merge(s1, s2, …))`). */
  protected mergeValues(a: unknown, _b: unknown): unknown {
    return a;
  }

  // ---- row access for the current key ----

  /** The cached entry of (current key, namespace), read from RocksDB (blocking) on a miss. */
  protected entryFor(namespace: unknown, namespaceId: string | number): RowEntry {
    const current = this.context.current;
    const keyGroup = current.requireKeyGroup(this.name);
    const metrics = this.cache.metrics;
    const last = this.lastEntry;
    if (last !== undefined && last.slot >= 0 && last.namespaceId === namespaceId && last.keyId === current.keyId) {
      metrics.hits++;
      last.isReferenced = true;
      return last;
    }
    let entry = this.find(current.keyId, namespaceId) as RowEntry | undefined;
    if (entry === undefined) {
      entry = this.load(current.key, current.keyId, keyGroup, namespace, namespaceId);
    } else {
      metrics.hits++;
      entry.isReferenced = true;
    }
    this.lastEntry = entry;
    return entry;
  }

  /** Like {@link entryFor}, but a miss creates an entry without reading (the caller overwrites it). */
  protected entryForWrite(namespace: unknown, namespaceId: string | number): RowEntry {
    const current = this.context.current;
    const keyGroup = current.requireKeyGroup(this.name);
    const last = this.lastEntry;
    if (last !== undefined && last.slot >= 0 && last.namespaceId === namespaceId && last.keyId === current.keyId) {
      last.isReferenced = true;
      return last;
    }
    let entry = this.find(current.keyId, namespaceId) as RowEntry | undefined;
    if (entry === undefined) {
      entry = new RowEntry(this as RocksKvState<unknown>, current.key, current.keyId, keyGroup, namespace, namespaceId);
      // Dirty from the start: whatever the caller writes must reach RocksDB, which may hold an older row.
      this.markDirty(entry);
      this.link(entry);
    } else {
      entry.isReferenced = true;
    }
    this.lastEntry = entry;
    return entry;
  }

  private load(key: unknown, keyId: KeyId, keyGroup: number, namespace: unknown, namespaceId: string | number): RowEntry {
    const cache = this.cache;
    cache.beforeRead();
    const rowKey = this.beginRowKey(keyGroup, key, namespace).copy();
    const [bytes] = this.context.store.multiGetSync(this.columnFamily, [rowKey]);
    cache.metrics.misses++;
    const entry = new RowEntry(this as RocksKvState<unknown>, key, keyId, keyGroup, namespace, namespaceId);
    this.fill(entry, bytes ?? null);
    this.link(entry);
    return entry;
  }

  /** Sets a new (not yet linked) entry from a stored row, or as absent. */
  private fill(entry: RowEntry, bytes: Uint8Array | null): void {
    if (bytes === null) return;
    decodeRow(bytes, this.hasTtl, decoded, this.name);
    entry.isPresent = true;
    entry.value = decoded.value;
    entry.expiresAtMs = decoded.expiresAtMs;
    decoded.value = undefined;
    entry.sizeBytes = entry.baseBytes + estimateValueBytes(entry.value);
  }

  /**
   * The live value of (current key, namespace) — the cached object, not a copy — or {@link NONE}. TTL
   * as in the memory backend: an expired value is removed, then returned this once under
   * 'return-expired-if-not-cleaned-up'; a live one is refreshed under 'on-read-and-write'.
   */
  protected readValue(namespace: unknown, namespaceId: string | number): unknown {
    const entry = this.entryFor(namespace, namespaceId);
    if (!entry.isPresent) return NONE;
    if (this.ttl === undefined) return entry.value;
    const nowMs = this.nowMs();
    if (entry.expiresAtMs <= nowMs) {
      const value = entry.value;
      this.setAbsent(entry);
      return this.isExpiredReturned ? value : NONE;
    }
    if (this.isRefreshedOnRead) {
      entry.expiresAtMs = saturatingAdd(nowMs, this.ttl.ttlMs);
      this.markDirty(entry);
    }
    return entry.value;
  }

  /** Stores `value` for (current key, namespace); refreshes TTL. `value` is held by reference. */
  protected writeValue(namespace: unknown, namespaceId: string | number, value: unknown): void {
    const entry = this.entryForWrite(namespace, namespaceId);
    entry.isPresent = true;
    entry.value = value;
    if (this.ttl !== undefined) entry.expiresAtMs = this.expiryFromNow();
    this.markDirty(entry);
    this.cache.resize(entry, entry.baseBytes + estimateValueBytes(value));
  }

  protected removeValue(namespace: unknown, namespaceId: string | number): void {
    const entry = this.entryForWrite(namespace, namespaceId);
    // A clean absent entry matches RocksDB: nothing to delete. (Entries created for a write start dirty.)
    if (!entry.isPresent && !entry.isDirty) return;
    this.setAbsent(entry);
  }

  private setAbsent(entry: RowEntry): void {
    entry.isPresent = false;
    entry.value = undefined;
    entry.expiresAtMs = Number.POSITIVE_INFINITY;
    this.markDirty(entry);
    this.cache.resize(entry, entry.baseBytes);
  }

  protected appendWrites(entry: KeyedEntry, writes: RocksWrite[]): void {
    const row = entry as RowEntry;
    const key = this.beginRowKey(row.keyGroup, row.key, row.namespace).copy();
    if (row.isPresent) {
      const value = encodeRow(row.value, row.expiresAtMs, this.hasTtl, this.name);
      writes.push({ kind: 'put', columnFamily: this.columnFamily, key, value });
    } else {
      writes.push({ kind: 'delete', columnFamily: this.columnFamily, key });
    }
  }

  // ---- prefetch ----

  protected isCachedForPrefetch(keyId: KeyId, namespaceId: string | number): boolean {
    const entry = this.find(keyId, namespaceId);
    if (entry === undefined) return false;
    // Touched: the batch will use it, so the prefetch's own installs must not evict it first.
    entry.isReferenced = true;
    return true;
  }

  protected install(target: PrefetchTarget, value: Uint8Array | null): boolean {
    if (this.find(target.keyId, target.namespaceId) !== undefined) return false;
    const { key, keyId, keyGroup, namespace, namespaceId } = target;
    const entry = new RowEntry(this as RocksKvState<unknown>, key, keyId, keyGroup, namespace, namespaceId);
    this.fill(entry, value);
    this.link(entry);
    return true;
  }

  validateStored(value: unknown, keyGroup: number): void {
    this.checkSchema(value, keyGroup, '');
  }
}
