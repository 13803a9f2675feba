import { keyIdOf, type KeyId } from '../../core/key-codec.ts';
import { saturatingAdd } from '../../core/time.ts';
import type { MapState } from '../state.ts';
import type { StateEntry } from './memory-kv-state.ts';
import { MemoryKvState } from './memory-kv-state.ts';

/** One user key of a map state; `expiresAtMs` is +∞ without TTL. */
export class MapCell {
  constructor(
    readonly key: unknown,
    public value: unknown,
    public expiresAtMs: number,
  ) {}
}

/** The stored representation of a map state entry (what `getInternal` returns): user-key id ▶ cell. */
export type StoredMap = Map<KeyId, MapCell>;

/**
 * Map state: stores a non-empty `Map<keyIdOf(userKey), MapCell>`; user keys follow the same rules as
 * stream keys (canonical, so `1` and `'1'` differ, object key order does not matter). TTL is per user
 * key, as in Flink. In snapshots the value is an array of `[userKey, value]` pairs, or
 * `[userKey, value, expiresAtMs]` triples when the state has a TTL. `updateInternal` accepts any
 * iterable of `[userKey, value]` (a `Map<K, V>` or an array of pairs).
 */
export class MemoryMapState<N> extends MemoryKvState<N> implements MapState<unknown, unknown> {
  get(key: unknown): unknown {
    const entry = this.lookupEntry(this.namespaceId);
    if (entry === undefined) return undefined;
    return this.readCell(entry, keyIdOf(key))?.value;
  }

  put(key: unknown, value: unknown): void {
    const map = this.mapForWrite();
    this.putCell(map, key, value);
  }

  putAll(entries: Iterable<readonly [unknown, unknown]>): void {
    let map: StoredMap | undefined;
    for (const [key, value] of entries) {
      map ??= this.mapForWrite();
      this.putCell(map, key, value);
    }
  }

  remove(key: unknown): void {
    const entry = this.lookupEntry(this.namespaceId);
    if (entry === undefined) return;
    const map = entry.value as StoredMap;
    map.delete(keyIdOf(key));
    if (map.size === 0) this.removeEntry(this.namespaceId);
  }

  contains(key: unknown): boolean {
    const entry = this.lookupEntry(this.namespaceId);
    return entry !== undefined && this.readCell(entry, keyIdOf(key)) !== undefined;
  }

  entries(): Array<[unknown, unknown]> {
    const out: Array<[unknown, unknown]> = [];
    const entry = this.lookupEntry(this.namespaceId);
    if (entry === undefined) return out;
    for (const [cellId, cell] of entry.value as StoredMap) {
      if (this.readCell(entry, cellId) !== undefined) out.push([cell.key, cell.value]);
    }
    return out;
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
    const entry = this.lookupEntry(this.namespaceId);
    if (entry === undefined) return true;
    if (this.ttl === undefined) return false;
    for (const cellId of (entry.value as StoredMap).keys()) {
      if (this.readCell(entry, cellId) !== undefined) return false;
    }
    return true;
  }

  override updateInternal(value: unknown): void {
    this.removeEntry(this.namespaceId);
    if (value === undefined) return;
    this.putAll(value as Iterable<readonly [unknown, unknown]>);
  }

  /**
   * The cell of `cellId` under per-user-key TTL: an expired cell is removed (and the entry with it when
   * it was the last), then returned only under 'return-expired-if-not-cleaned-up'.
   */
  private readCell(entry: StateEntry, cellId: KeyId): MapCell | undefined {
    const map = entry.value as StoredMap;
    const cell = map.get(cellId);
    if (cell === undefined || this.ttl === undefined) return cell;
    const nowMs = this.nowMs();
    if (cell.expiresAtMs <= nowMs) {
      map.delete(cellId);
      if (map.size === 0) this.removeEntry(this.namespaceId);
      return this.isExpiredReturned ? cell : undefined;
    }
    if (this.isRefreshedOnRead) cell.expiresAtMs = saturatingAdd(nowMs, this.ttl.ttlMs);
    return cell;
  }

  private mapForWrite(): StoredMap {
    const entry = this.lookupEntry(this.namespaceId);
    if (entry !== undefined) return entry.value as StoredMap;
    const map: StoredMap = new Map();
    this.writeEntry(this.namespace, this.namespaceId, map);
    return map;
  }

  private putCell(map: StoredMap, key: unknown, value: unknown): void {
    const cellId = keyIdOf(key);
    const expiresAtMs = this.expiryFromNow();
    const cell = map.get(cellId);
    if (cell === undefined) {
      map.set(cellId, new MapCell(key, value, expiresAtMs));
    } else {
      cell.value = value;
      cell.expiresAtMs = expiresAtMs;
    }
  }

  protected override toSnapshotValue(value: unknown, nowMs: number): unknown {
    const pairs: unknown[] = [];
    for (const cell of (value as StoredMap).values()) {
      if (this.ttl === undefined) pairs.push([cell.key, cell.value]);
      else if (cell.expiresAtMs > nowMs) pairs.push([cell.key, cell.value, cell.expiresAtMs]);
    }
    return pairs.length === 0 ? undefined : pairs;
  }

  protected override fromSnapshotValue(value: unknown): unknown {
    const map: StoredMap = new Map();
    for (const pair of value as ReadonlyArray<readonly [unknown, unknown, number?]>) {
      let expiresAtMs = Number.POSITIVE_INFINITY;
      if (this.ttl !== undefined) expiresAtMs = pair[2] ?? this.expiryFromNow();
      map.set(keyIdOf(pair[0]), new MapCell(pair[0], pair[1], expiresAtMs));
    }
    return map;
  }

  protected override validateRestored(value: unknown, keyGroup: number, operatorUid: string): void {
    if (!Array.isArray(value) || value.length === 0) {
      throw this.corrupt(keyGroup, operatorUid, 'a map value is not a non-empty array of [key, value] pairs');
    }
    for (const pair of value as unknown[]) {
      if (!Array.isArray(pair) || pair.length < 2) {
        throw this.corrupt(keyGroup, operatorUid, 'a map entry is not a [key, value] pair');
      }
      this.checkSchema(pair[1], keyGroup, operatorUid, 'map ');
    }
  }
}
