import { decodeKey, encodeKey, keyIdOf, type KeyId } from '../../core/key-codec.ts';
import { saturatingAdd } from '../../core/time.ts';
import type { StateDescriptor } from '../descriptors.ts';
import type { NamespaceCodec } from '../keyed-state-backend.ts';
import type { MapState } from '../state.ts';
import { prefixEnd } from './key-layout.ts';
import type { RocksWrite } from './rocks-store.ts';
import { KeyedEntry, mapDirectoryColumnFamily, RocksKvState, type PrefetchTarget, type RocksStateContext } from './rocksdb-kv-state.ts';
import { decodeRow, encodeRow, scanRowsSync, type DecodedRow } from './state-rows.ts';
import { estimateValueBytes } from './write-back-cache.ts';

/**
 * Estimated bytes of a cell object (with its boxed TTL deadline) and its slots in the row's Map and
 * dirty list, besides key and value; calibrated by test/state/rocksdb/cache-size-estimate.test.ts.
 */
const CELL_OVERHEAD_BYTES = 150;
/** Estimated bytes of a row's own Map and dirty list, besides the entry. */
const ROW_OVERHEAD_BYTES = 120;

/** One user key of a cached map: its value, or its known absence. `expiresAtMs` is +∞ without TTL. */
class MapCell {
  isDirty = false;
  sizeBytes: number;

  constructor(
    readonly userKey: unknown,
    public isPresent: boolean,
    public value: unknown,
    public expiresAtMs: number,
  ) {
    this.sizeBytes = CELL_OVERHEAD_BYTES + estimateValueBytes(userKey) + (isPresent ? estimateValueBytes(value) : 0);
  }
}

/**
 * The cached part of one (key, namespace) map: some of its user keys (`cells`, by user-key id), or all
 * of them once `isComplete` (then a user key without a cell is absent). `isClearedInStore`: the map was
 * cleared without knowing its rows, so writing it back starts with a range delete of its prefix.
 */
class MapRowEntry extends KeyedEntry {
  readonly cells = new Map<KeyId, MapCell>();
  isComplete = false;
  isClearedInStore = false;
  dirtyCells: MapCell[] = [];
  cellBytes = 0;

  constructor(
    owner: RocksKvState<unknown>,
    key: unknown,
    keyId: KeyId,
    keyGroup: number,
    namespace: unknown,
    namespaceId: string | number,
  ) {
    super(owner, key, keyId, keyGroup, namespace, namespaceId);
    this.baseBytes += ROW_OVERHEAD_BYTES;
    this.sizeBytes = this.baseBytes;
  }
}

const decoded: DecodedRow = { value: undefined, expiresAtMs: 0 };

/**
 * Map state in RocksDB: one row per user key, keyed `[keyGroup][key][namespace][user key]`, so a map is
 * one contiguous range of rows. The cache holds a map's rows as one entry ({@link MapRowEntry}) with the
 * user keys seen so far: `get`/`put`/`remove`/`contains` touch one user key (a miss reads that one row,
 * blocking; `put` and `remove` never read); `entries`, `keys`, `values` and `isEmpty` need the whole map,
 * read once with a blocking prefix scan and then known to be complete. `clear` of a map whose rows are
 * not all known issues one range delete of its prefix when written back. TTL is per user key, as in
 * Flink. Snapshot values list `[userKey, value]` pairs (triples with TTL) in user-key byte order.
 */
export class RocksMapState<N> extends RocksKvState<N> implements MapState<unknown, unknown> {
  private lastRow: MapRowEntry | undefined = undefined;
  /** The directory of non-empty maps (see {@link mapDirectoryColumnFamily}). */
  private readonly directoryFamily: string;

  constructor(descriptor: StateDescriptor, namespaceCodec: NamespaceCodec<N>, context: RocksStateContext) {
    super(descriptor, namespaceCodec, context);
    this.directoryFamily = mapDirectoryColumnFamily(descriptor.name);
  }

  get(key: unknown): unknown {
    const row = this.currentRow();
    return this.readCell(row, key, keyIdOf(key))?.value;
  }

  put(key: unknown, value: unknown): void {
    this.putCell(this.currentRow(), key, value);
  }

  putAll(entries: Iterable<readonly [unknown, unknown]>): void {
    let row: MapRowEntry | undefined;
    for (const [key, value] of entries) {
      row ??= this.currentRow();
      this.putCell(row, key, value);
    }
  }

  remove(key: unknown): void {
    const row = this.currentRow();
    const keyId = keyIdOf(key);
    const cell = row.cells.get(keyId);
    if (cell === undefined) {
      if (row.isComplete) return;
      this.addCell(row, keyId, new MapCell(key, false, undefined, Number.POSITIVE_INFINITY), true);
      return;
    }
    if (!cell.isPresent && !cell.isDirty) return;
    this.setCell(row, cell, false, undefined, Number.POSITIVE_INFINITY);
  }

  contains(key: unknown): boolean {
    const row = this.currentRow();
    return this.readCell(row, key, keyIdOf(key)) !== undefined;
  }

  /**
   * In the order of the user keys' canonical encodings (RocksDB's order), whatever is cached: the order
   * must not depend on the cache's history, or a restored job would emit in another order than an
   * uninterrupted one.
   */
  entries(): Array<[unknown, unknown]> {
    const live: Array<{ readonly order: string; readonly entry: [unknown, unknown] }> = [];
    const row = this.currentRow();
    this.ensureComplete(row);
    for (const [keyId, cell] of [...row.cells]) {
      if (!cell.isPresent) continue;
      const current = this.readCell(row, cell.userKey, keyId);
      if (current !== undefined) live.push({ order: Buffer.from(encodeKey(current.userKey)).toString('latin1'), entry: [current.userKey, current.value] });
    }
    // latin1 strings compare code unit by code unit, i.e. byte by byte.
    live.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    return live.map((item) => item.entry);
  }

  keys(): unknown[] {
    const out: unknown[] = [];
    for (const [key] of this.entries()) out.push(key);
    return out;
  }

  values(): unknown[] {
    const out: unknown[] = [];
    for (const [, value] of this.entries()) out.push(value);
    return out;
  }

  isEmpty(): boolean {
    const row = this.currentRow();
    if (this.ttl === undefined) {
      for (const cell of row.cells.values()) if (cell.isPresent) return false;
      if (row.isComplete) return true;
    }
    this.ensureComplete(row);
    for (const [keyId, cell] of [...row.cells]) {
      if (cell.isPresent && this.readCell(row, cell.userKey, keyId) !== undefined) return false;
    }
    return true;
  }

  clear(): void {
    this.clearRow(this.currentRow());
  }

  /** The live entries as a `Map<userKey, value>`; undefined when the map is empty. */
  getInternal(): unknown {
    const entries = this.entries();
    return entries.length === 0 ? undefined : new Map(entries);
  }

  /** Replaces the map with the `[userKey, value]` pairs of `value` (a Map or an array of pairs); undefined clears. */
  updateInternal(value: unknown): void {
    const row = this.currentRow();
    this.clearRow(row);
    if (value === undefined) return;
    for (const [key, item] of value as Iterable<readonly [unknown, unknown]>) this.putCell(row, key, item);
  }

  // ---- rows and cells ----

  /** The cached map of (current key, current namespace); created empty (not complete) without reading. */
  private currentRow(): MapRowEntry {
    const current = this.context.current;
    const keyGroup = current.requireKeyGroup(this.name);
    const namespaceId = this.namespaceId;
    const last = this.lastRow;
    if (last !== undefined && last.slot >= 0 && last.namespaceId === namespaceId && last.keyId === current.keyId) {
      last.isReferenced = true;
      return last;
    }
    let row = this.find(current.keyId, namespaceId) as MapRowEntry | undefined;
    if (row === undefined) {
      row = new MapRowEntry(this as RocksKvState<unknown>, current.key, current.keyId, keyGroup, this.namespace, namespaceId);
      this.link(row);
    } else {
      row.isReferenced = true;
    }
    this.lastRow = row;
    return row;
  }

  /**
   * The live cell of `key`, reading its row (blocking) when the map is not complete and the cell is
   * unknown. TTL as in the memory backend: an expired cell is removed, then returned this once under
   * 'return-expired-if-not-cleaned-up'; a live one is refreshed under 'on-read-and-write'.
   */
  private readCell(row: MapRowEntry, key: unknown, keyId: KeyId): MapCell | undefined {
    const metrics = this.cache.metrics;
    let cell = row.cells.get(keyId);
    if (cell === undefined) {
      if (row.isComplete) {
        metrics.hits++;
        return undefined;
      }
      cell = this.loadCell(row, key, keyId);
    } else {
      metrics.hits++;
    }
    if (!cell.isPresent) return undefined;
    if (this.ttl === undefined) return cell;
    const nowMs = this.nowMs();
    if (cell.expiresAtMs <= nowMs) {
      const expired = new MapCell(cell.userKey, true, cell.value, cell.expiresAtMs);
      this.setCell(row, cell, false, undefined, Number.POSITIVE_INFINITY);
      return this.isExpiredReturned ? expired : undefined;
    }
    if (this.isRefreshedOnRead) {
      cell.expiresAtMs = saturatingAdd(nowMs, this.ttl.ttlMs);
      this.markCellDirty(row, cell);
    }
    return cell;
  }

  private loadCell(row: MapRowEntry, key: unknown, keyId: KeyId): MapCell {
    const cache = this.cache;
    cache.beforeRead();
    const rowKey = this.beginRowKey(row.keyGroup, row.key, row.namespace).userKey(key).copy();
    const [bytes] = this.context.store.multiGetSync(this.columnFamily, [rowKey]);
    cache.metrics.misses++;
    const cell = this.cellFromRow(key, bytes ?? null);
    this.addCell(row, keyId, cell, false);
    return cell;
  }

  private cellFromRow(key: unknown, bytes: Uint8Array | null): MapCell {
    if (bytes === null) return new MapCell(key, false, undefined, Number.POSITIVE_INFINITY);
    decodeRow(bytes, this.hasTtl, decoded, this.name);
    const cell = new MapCell(key, true, decoded.value, decoded.expiresAtMs);
    decoded.value = undefined;
    return cell;
  }

  private putCell(row: MapRowEntry, key: unknown, value: unknown): void {
    const keyId = keyIdOf(key);
    const expiresAtMs = this.expiryFromNow();
    const cell = row.cells.get(keyId);
    if (cell === undefined) this.addCell(row, keyId, new MapCell(key, true, value, expiresAtMs), true);
    else this.setCell(row, cell, true, value, expiresAtMs);
  }

  private addCell(row: MapRowEntry, keyId: KeyId, cell: MapCell, isDirty: boolean): void {
    row.cells.set(keyId, cell);
    if (isDirty) this.markCellDirty(row, cell);
    this.resizeRow(row, cell.sizeBytes);
  }

  private setCell(row: MapRowEntry, cell: MapCell, isPresent: boolean, value: unknown, expiresAtMs: number): void {
    cell.isPresent = isPresent;
    cell.value = value;
    cell.expiresAtMs = expiresAtMs;
    this.markCellDirty(row, cell);
    const sizeBytes = CELL_OVERHEAD_BYTES + estimateValueBytes(cell.userKey) + (isPresent ? estimateValueBytes(value) : 0);
    const delta = sizeBytes - cell.sizeBytes;
    cell.sizeBytes = sizeBytes;
    if (delta !== 0) this.resizeRow(row, delta);
  }

  private markCellDirty(row: MapRowEntry, cell: MapCell): void {
    if (!cell.isDirty) {
      cell.isDirty = true;
      row.dirtyCells.push(cell);
    }
    this.markDirty(row);
  }

  private resizeRow(row: MapRowEntry, deltaBytes: number): void {
    row.cellBytes += deltaBytes;
    this.cache.resize(row, row.baseBytes + row.cellBytes);
  }

  private clearRow(row: MapRowEntry): void {
    if (row.isComplete) {
      // All rows are known: delete the present ones one by one.
      for (const cell of row.cells.values()) {
        if (cell.isPresent || cell.isDirty) this.setCell(row, cell, false, undefined, Number.POSITIVE_INFINITY);
      }
      return;
    }
    for (const cell of row.dirtyCells) cell.isDirty = false;
    row.dirtyCells = [];
    row.cells.clear();
    row.isComplete = true;
    row.isClearedInStore = true;
    this.markDirty(row);
    this.resizeRow(row, -row.cellBytes);
  }

  /** Reads the map's rows that are not cached (one blocking prefix scan); the map is complete afterwards. */
  private ensureComplete(row: MapRowEntry): void {
    if (row.isComplete) return;
    const cache = this.cache;
    cache.beforeRead();
    const prefix = this.beginRowKey(row.keyGroup, row.key, row.namespace).copy();
    let addedBytes = 0;
    cache.metrics.blockingScans += scanRowsSync(this.context.store, this.columnFamily, prefix, prefixEnd(prefix), (rowKey, value) => {
      const key = decodeKey(rowKey, prefix.length, rowKey.length);
      const keyId = keyIdOf(key);
      if (row.cells.has(keyId)) return;
      const cell = this.cellFromRow(key, value);
      row.cells.set(keyId, cell);
      addedBytes += cell.sizeBytes;
    });
    row.isComplete = true;
    this.resizeRow(row, addedBytes);
  }

  protected appendWrites(entry: KeyedEntry, writes: RocksWrite[]): void {
    const row = entry as MapRowEntry;
    const builder = this.beginRowKey(row.keyGroup, row.key, row.namespace);
    const prefixLength = builder.length;
    const prefix = builder.copy();
    if (row.isClearedInStore) {
      writes.push({ kind: 'delete-range', columnFamily: this.columnFamily, key: prefix, end: prefixEnd(prefix) });
      writes.push({ kind: 'delete', columnFamily: this.directoryFamily, key: prefix });
      row.isClearedInStore = false;
    }
    // A map with rows is listed in the directory (a blind put: cheaper than knowing whether it is).
    if (row.dirtyCells.some((cell) => cell.isDirty && cell.isPresent)) {
      writes.push({ kind: 'put', columnFamily: this.directoryFamily, key: prefix, value: new Uint8Array(0) });
    }
    let droppedBytes = 0;
    for (const cell of row.dirtyCells) {
      if (!cell.isDirty) continue;
      cell.isDirty = false;
      builder.truncate(prefixLength);
      const key = builder.userKey(cell.userKey).copy();
      if (cell.isPresent) {
        const value = encodeRow(cell.value, cell.expiresAtMs, this.hasTtl, this.name);
        writes.push({ kind: 'put', columnFamily: this.columnFamily, key, value });
      } else {
        writes.push({ kind: 'delete', columnFamily: this.columnFamily, key });
        // In a complete map an absent user key needs no cell.
        if (row.isComplete) {
          row.cells.delete(keyIdOf(cell.userKey));
          droppedBytes += cell.sizeBytes;
        }
      }
    }
    row.dirtyCells = [];
    if (droppedBytes > 0) this.resizeRow(row, -droppedBytes);
  }

  // ---- prefetch ----

  protected isCachedForPrefetch(keyId: KeyId, namespaceId: string | number, userKey: unknown, hasUserKey: boolean): boolean {
    const row = this.find(keyId, namespaceId) as MapRowEntry | undefined;
    if (row === undefined) return false;
    row.isReferenced = true;
    if (row.isComplete) return true;
    return hasUserKey && row.cells.has(keyIdOf(userKey));
  }

  protected override readPrefetch(targets: PrefetchTarget[], keys: Uint8Array[]): Promise<void> {
    const pointTargets: PrefetchTarget[] = [];
    const pointKeys: Uint8Array[] = [];
    const reads: Array<Promise<void>> = [];
    const wholeTargets: PrefetchTarget[] = [];
    const wholePrefixes: Uint8Array[] = [];
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i]!;
      if (target.hasUserKey) {
        pointTargets.push(target);
        pointKeys.push(keys[i]!);
      } else {
        wholeTargets.push(target);
        wholePrefixes.push(keys[i]!);
      }
    }
    if (wholeTargets.length > 0) reads.push(this.prefetchWholeMaps(wholeTargets, wholePrefixes));
    if (pointTargets.length > 0) reads.push(super.readPrefetch(pointTargets, pointKeys));
    return reads.length === 1 ? reads[0]! : Promise.all(reads).then(() => undefined);
  }

  /**
   * Reads whole maps and installs them as complete: one batched read of the directory tells the empty
   * maps (installed at once, no scan), then one asynchronous prefix scan per map with rows.
   */
  private prefetchWholeMaps(targets: readonly PrefetchTarget[], prefixes: readonly Uint8Array[]): Promise<void> {
    const cache = this.cache;
    const store = this.context.store;
    const seq = cache.beginPrefetchRead();
    return store
      .multiGet(this.directoryFamily, prefixes)
      .then((listed) => {
        const scans: Array<Promise<void>> = [];
        for (let i = 0; i < targets.length; i++) {
          const target = targets[i]!;
          const prefix = prefixes[i]!;
          if (listed[i] === null) {
            this.installWholeMap(target, prefix, [], [], seq);
            continue;
          }
          scans.push(
            store
              .scan({ columnFamily: this.columnFamily, gte: prefix, lt: prefixEnd(prefix) })
              .then(({ keys, values }) => this.installWholeMap(target, prefix, keys, values, seq)),
          );
        }
        return Promise.all(scans);
      })
      .then(
        () => cache.endPrefetchRead(),
        (error: unknown) => {
          cache.endPrefetchRead();
          throw error;
        },
      );
  }

  private installWholeMap(
    target: PrefetchTarget,
    prefix: Uint8Array,
    keys: readonly Uint8Array[],
    values: readonly Uint8Array[],
    seq: number,
  ): void {
    const cache = this.cache;
    if (this.isWrittenSince(target.keyId, seq)) {
      cache.metrics.prefetchDropped++;
      return;
    }
    let row = this.find(target.keyId, target.namespaceId) as MapRowEntry | undefined;
    if (row !== undefined && row.isComplete) {
      cache.metrics.prefetchDropped++;
      return;
    }
    if (row === undefined) {
      row = this.newRow(target);
      this.link(row);
    }
    let addedBytes = 0;
    for (let i = 0; i < keys.length; i++) {
      const rowKey = keys[i]!;
      const key = decodeKey(rowKey, prefix.length, rowKey.length);
      const keyId = keyIdOf(key);
      if (row.cells.has(keyId)) continue;
      const cell = this.cellFromRow(key, values[i]!);
      row.cells.set(keyId, cell);
      addedBytes += cell.sizeBytes;
    }
    row.isComplete = true;
    this.resizeRow(row, addedBytes);
    cache.metrics.prefetched += keys.length;
  }

  protected install(target: PrefetchTarget, value: Uint8Array | null): boolean {
    const keyId = keyIdOf(target.userKey);
    let row = this.find(target.keyId, target.namespaceId) as MapRowEntry | undefined;
    if (row === undefined) {
      row = this.newRow(target);
      this.link(row);
    } else if (row.isComplete || row.cells.has(keyId)) {
      return false;
    }
    this.addCell(row, keyId, this.cellFromRow(target.userKey, value), false);
    return true;
  }

  private newRow(target: PrefetchTarget): MapRowEntry {
    return new MapRowEntry(this as RocksKvState<unknown>, target.key, target.keyId, target.keyGroup, target.namespace, target.namespaceId);
  }

  validateStored(value: unknown, keyGroup: number): void {
    this.checkSchema(value, keyGroup, 'map ');
  }
}
