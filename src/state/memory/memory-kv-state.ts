import { EddyError } from '../../core/errors.ts';
import { keyIdOf, type KeyId } from '../../core/key-codec.ts';
import { saturatingAdd, type Clock } from '../../core/time.ts';
import { checkRestoredValue, corruptRestoredState } from '../backend-checks.ts';
import type { StateDescriptor, StateTtlConfig } from '../descriptors.ts';
import type { InternalKvState, NamespaceCodec, StateEntrySnapshot } from '../keyed-state-backend.ts';
import type { CurrentKey } from './current-key.ts';

/** One stored value: a (key, namespace) cell of one state. `expiresAtMs` is +∞ without TTL. */
export class StateEntry {
  /** Set when the entry leaves the table, so a holder knows to re-insert rather than update in place. */
  isRemoved = false;

  constructor(
    readonly namespace: unknown,
    /** `namespaceCodec.idOf(namespace)`: what the entry is found by within its key's row. */
    readonly namespaceId: string | number,
    public value: unknown,
    public expiresAtMs: number,
  ) {}
}

/** Above this many namespaces, a {@link KeyRow} switches from linear scans to a Map. */
const ROW_SCAN_LIMIT = 8;

/**
 * All entries of one key in one state, by namespace id (in no particular order). `key` is the original
 * key, for snapshots. A key usually has one entry (plain keyed state, or one open window) or a few
 * (overlapping or late windows): the first is held inline and the others in a small array, found by
 * comparing each entry's `namespaceId` — no Map and no extra object per key, which is what dominated
 * the time (cache misses) and the memory of a state access. Past {@link ROW_SCAN_LIMIT} namespaces
 * they move into a Map for good, so lookups stay O(1).
 */
export class KeyRow {
  private first: StateEntry | undefined = undefined;
  private others: StateEntry[] | undefined = undefined;
  private byId: Map<string | number, StateEntry> | undefined = undefined;

  constructor(readonly key: unknown) {}

  get size(): number {
    if (this.byId !== undefined) return this.byId.size;
    return (this.first === undefined ? 0 : 1) + (this.others === undefined ? 0 : this.others.length);
  }

  get(namespaceId: string | number): StateEntry | undefined {
    const first = this.first;
    if (first !== undefined && first.namespaceId === namespaceId) return first;
    if (this.byId !== undefined) return this.byId.get(namespaceId);
    const others = this.others;
    if (others === undefined) return undefined;
    for (let i = 0; i < others.length; i++) {
      if (others[i]!.namespaceId === namespaceId) return others[i];
    }
    return undefined;
  }

  /** Inserts `entry` under its namespace id, replacing the entry there if any. */
  set(entry: StateEntry): void {
    const namespaceId = entry.namespaceId;
    if (this.byId !== undefined) {
      this.byId.set(namespaceId, entry);
      return;
    }
    if (this.first === undefined || this.first.namespaceId === namespaceId) {
      this.first = entry;
      return;
    }
    const others = (this.others ??= []);
    for (let i = 0; i < others.length; i++) {
      if (others[i]!.namespaceId === namespaceId) {
        others[i] = entry;
        return;
      }
    }
    others.push(entry);
    if (others.length >= ROW_SCAN_LIMIT) {
      const byId = new Map<string | number, StateEntry>();
      byId.set(this.first.namespaceId, this.first);
      for (const other of others) byId.set(other.namespaceId, other);
      this.byId = byId;
      this.first = undefined;
      this.others = undefined;
    }
  }

  delete(namespaceId: string | number): void {
    if (this.byId !== undefined) {
      this.byId.delete(namespaceId);
      return;
    }
    const others = this.others;
    if (this.first !== undefined && this.first.namespaceId === namespaceId) {
      this.first = others === undefined ? undefined : others.pop();
      return;
    }
    if (others === undefined) return;
    for (let i = 0; i < others.length; i++) {
      if (others[i]!.namespaceId !== namespaceId) continue;
      const last = others.pop()!;
      if (i < others.length) others[i] = last;
      return;
    }
  }

  values(): Iterable<StateEntry> {
    if (this.byId !== undefined) return this.byId.values();
    const all: StateEntry[] = [];
    if (this.first !== undefined) all.push(this.first);
    if (this.others !== undefined) all.push(...this.others);
    return all;
  }
}

/** The namespace id before a windowed state's first `setCurrentNamespace`; no codec produces it. */
const NO_NAMESPACE_ID = '\u0000no-namespace';

/** Where TTL time comes from. */
export interface TtlTimeSource {
  readonly clock: Clock;
  readonly currentWatermark: () => number;
}

/**
 * The memory backend's storage of one named state and the namespace-aware access shared by all five
 * kinds. Layout: `rowsByKeyGroup[keyGroup − range.start]` ▶ Map<keyIdOf(key), KeyRow> ▶ StateEntry by
 * namespace id (see {@link KeyRow}); a key group's map exists only once it holds a key. Values are held by reference.
 *
 * TTL (when the descriptor has one): an entry expires at `lastWrite (or lastRead, for
 * 'on-read-and-write') + ttlMs`, measured on the processing-time clock or the watermark; it is expired
 * when `expiresAtMs ≤ now`. An access that finds an expired entry removes it and returns nothing — or,
 * with 'return-expired-if-not-cleaned-up', returns it that one last time (Flink's semantics). Snapshots
 * skip expired entries. Cost of an access: an array index, one Map lookup by key id, and a look at
 * the key's few entries (or a second Map lookup).
 */
export abstract class MemoryKvState<N> implements InternalKvState<N> {
  readonly descriptor: StateDescriptor;
  readonly namespaceCodec: NamespaceCodec<N>;
  protected namespace: N;
  protected namespaceId: string | number;
  protected readonly ttl: StateTtlConfig | undefined;
  /** True when whole entries expire (all kinds with TTL but map, whose user keys expire one by one). */
  protected readonly hasEntryTtl: boolean;
  protected readonly isRefreshedOnRead: boolean;
  protected readonly isExpiredReturned: boolean;
  private readonly rowsByKeyGroup: Array<Map<KeyId, KeyRow> | undefined>;

  constructor(
    descriptor: StateDescriptor,
    namespaceCodec: NamespaceCodec<N>,
    protected readonly current: CurrentKey,
    keyGroupCount: number,
    private readonly ttlTime: TtlTimeSource,
    /** VOID_NAMESPACE for plain keyed state; undefined for windowed state, which sets it before each access. */
    initialNamespace: N | undefined,
  ) {
    this.descriptor = descriptor;
    this.namespaceCodec = namespaceCodec;
    this.namespace = initialNamespace as N;
    this.namespaceId = initialNamespace === undefined ? NO_NAMESPACE_ID : namespaceCodec.idOf(initialNamespace);
    this.ttl = descriptor.ttl;
    this.hasEntryTtl = descriptor.ttl !== undefined && descriptor.kind !== 'map';
    this.isRefreshedOnRead = descriptor.ttl?.updateType === 'on-read-and-write';
    this.isExpiredReturned = descriptor.ttl?.visibility === 'return-expired-if-not-cleaned-up';
    this.rowsByKeyGroup = new Array<Map<KeyId, KeyRow> | undefined>(keyGroupCount);
  }

  get name(): string {
    return this.descriptor.name;
  }

  setCurrentNamespace(namespace: N): void {
    this.namespace = namespace;
    this.namespaceId = this.namespaceCodec.idOf(namespace);
  }

  getInternal(): unknown {
    return this.readEntry(this.namespaceId)?.value;
  }

  /** `undefined` clears the entry. */
  updateInternal(value: unknown): void {
    if (value === undefined) this.removeEntry(this.namespaceId);
    else this.writeEntry(this.namespace, this.namespaceId, value);
  }

  mergeNamespaces(target: N, sources: readonly N[]): void {
    this.checkCanMerge();
    const targetId = this.namespaceCodec.idOf(target);
    let merged: unknown = undefined;
    let hasMerged = false;
    for (const source of sources) {
      const sourceId = this.namespaceCodec.idOf(source);
      if (sourceId === targetId) continue;
      const entry = this.readEntry(sourceId);
      if (entry === undefined) continue;
      this.removeEntry(sourceId);
      merged = hasMerged ? this.mergeValues(merged, entry.value) : entry.value;
      hasMerged = true;
    }
    if (!hasMerged) return;
    const targetEntry = this.readEntry(targetId);
    this.writeEntryTo(targetEntry, target, targetId, targetEntry === undefined ? merged : this.mergeValues(targetEntry.value, merged));
  }

  clear(): void {
    this.removeEntry(this.namespaceId);
  }

  /**
   * Throws unless this state can merge namespaces — checked before any merge, so a state that cannot
   * merge fails on the first merge whatever the data.
   */
  protected checkCanMerge(): void {
    throw new EddyError(
      `${this.descriptor.kind} state '${this.name}' cannot merge namespaces; only list, reducing and aggregating state can`,
    );
  }

  /** Combines two stored values when namespaces merge (Flink's order: `merge(target, merge(s1, s2, …))`). */
  protected mergeValues(a: unknown, _b: unknown): unknown {
    return a;
  }

  // ---- TTL time ----

  protected nowMs(): number {
    return this.ttl?.timeCharacteristic === 'event-time' ? this.ttlTime.currentWatermark() : this.ttlTime.clock.now();
  }

  /** Expiry of a value written or refreshed now; +∞ without TTL. */
  protected expiryFromNow(): number {
    return this.ttl === undefined ? Number.POSITIVE_INFINITY : saturatingAdd(this.nowMs(), this.ttl.ttlMs);
  }

  // ---- entry access for the current key ----

  /** The entry without any TTL check. */
  protected lookupEntry(namespaceId: string | number): StateEntry | undefined {
    const rows = this.rowsByKeyGroup[this.current.requireKeyGroupIndex(this.name)];
    return rows?.get(this.current.keyId)?.get(namespaceId);
  }

  /**
   * The entry of the current key under `namespaceId`, applying whole-entry TTL: an expired entry is
   * removed, then returned only under 'return-expired-if-not-cleaned-up' (detached: writing to it
   * re-inserts); a live one is refreshed under 'on-read-and-write'.
   */
  protected readEntry(namespaceId: string | number): StateEntry | undefined {
    const entry = this.lookupEntry(namespaceId);
    if (entry === undefined || !this.hasEntryTtl) return entry;
    const nowMs = this.nowMs();
    if (entry.expiresAtMs <= nowMs) {
      this.removeEntry(namespaceId);
      return this.isExpiredReturned ? entry : undefined;
    }
    if (this.isRefreshedOnRead) entry.expiresAtMs = saturatingAdd(nowMs, this.ttl!.ttlMs);
    return entry;
  }

  /** Writes `value` under (current key, namespace), creating the entry if needed; refreshes TTL. */
  protected writeEntry(namespace: unknown, namespaceId: string | number, value: unknown): StateEntry {
    const index = this.current.requireKeyGroupIndex(this.name);
    let rows = this.rowsByKeyGroup[index];
    if (rows === undefined) {
      rows = new Map();
      this.rowsByKeyGroup[index] = rows;
    }
    let row = rows.get(this.current.keyId);
    if (row === undefined) {
      row = new KeyRow(this.current.key);
      rows.set(this.current.keyId, row);
    }
    let entry = row.get(namespaceId);
    const expiresAtMs = this.hasEntryTtl ? this.expiryFromNow() : Number.POSITIVE_INFINITY;
    if (entry === undefined) {
      entry = new StateEntry(namespace, namespaceId, value, expiresAtMs);
      row.set(entry);
    } else {
      entry.value = value;
      entry.expiresAtMs = expiresAtMs;
    }
    return entry;
  }

  /** Like {@link writeEntry}, but updates `entry` in place when it is still in the table (saves the lookups). */
  protected writeEntryTo(entry: StateEntry | undefined, namespace: unknown, namespaceId: string | number, value: unknown): void {
    if (entry === undefined || entry.isRemoved) {
      this.writeEntry(namespace, namespaceId, value);
      return;
    }
    entry.value = value;
    if (this.hasEntryTtl) entry.expiresAtMs = this.expiryFromNow();
  }

  protected removeEntry(namespaceId: string | number): void {
    const index = this.current.requireKeyGroupIndex(this.name);
    const rows = this.rowsByKeyGroup[index];
    if (rows === undefined) return;
    const row = rows.get(this.current.keyId);
    if (row === undefined) return;
    const entry = row.get(namespaceId);
    if (entry === undefined) return;
    entry.isRemoved = true;
    row.delete(namespaceId);
    if (row.size === 0) rows.delete(this.current.keyId);
  }

  // ---- whole-state operations (not per record) ----

  /** Keys with a live entry under `namespaceId`, in no particular order. O(keys). */
  getKeys(namespaceId: string | number): unknown[] {
    const keys: unknown[] = [];
    const nowMs = this.hasEntryTtl ? this.nowMs() : 0;
    for (const rows of this.rowsByKeyGroup) {
      if (rows === undefined) continue;
      for (const row of rows.values()) {
        const entry = row.get(namespaceId);
        if (entry === undefined) continue;
        if (this.hasEntryTtl && entry.expiresAtMs <= nowMs) continue;
        keys.push(row.key);
      }
    }
    return keys;
  }

  /**
   * The live entries of key-group slot `index` as snapshot tuples — references to the stored values;
   * the backend copies the whole snapshot afterwards. Undefined when the slot holds nothing live.
   */
  snapshotKeyGroup(index: number): StateEntrySnapshot[] | undefined {
    const rows = this.rowsByKeyGroup[index];
    if (rows === undefined || rows.size === 0) return undefined;
    const nowMs = this.ttl === undefined ? 0 : this.nowMs();
    const entries: StateEntrySnapshot[] = [];
    for (const row of rows.values()) {
      for (const entry of row.values()) {
        if (this.hasEntryTtl && entry.expiresAtMs <= nowMs) continue;
        const value = this.toSnapshotValue(entry.value, nowMs);
        if (value === undefined) continue;
        const namespacePlain = this.namespaceCodec.toPlain(entry.namespace as N);
        entries.push(
          this.hasEntryTtl ? [row.key, namespacePlain, value, entry.expiresAtMs] : [row.key, namespacePlain, value],
        );
      }
    }
    return entries.length === 0 ? undefined : entries;
  }

  /**
   * Loads restored entries of key group `keyGroup` (slot `index`), validating each value against the
   * descriptor's schema. The entries must already be owned by this backend (copied on restore).
   */
  restoreKeyGroup(keyGroup: number, index: number, entries: readonly StateEntrySnapshot[], operatorUid: string): void {
    let rows = this.rowsByKeyGroup[index];
    if (rows === undefined) {
      rows = new Map();
      this.rowsByKeyGroup[index] = rows;
    }
    for (const [key, namespacePlain, value, restoredExpiresAtMs] of entries) {
      this.validateRestored(value, keyGroup, operatorUid);
      const namespace = this.namespaceCodec.fromPlain(namespacePlain);
      const namespaceId = this.namespaceCodec.idOf(namespace);
      const keyId = keyIdOf(key);
      let row = rows.get(keyId);
      if (row === undefined) {
        row = new KeyRow(key);
        rows.set(keyId, row);
      }
      // A snapshot taken without TTL gets a fresh TTL from now; one taken with TTL keeps its expiry.
      let expiresAtMs = Number.POSITIVE_INFINITY;
      if (this.hasEntryTtl) expiresAtMs = restoredExpiresAtMs ?? this.expiryFromNow();
      row.set(new StateEntry(namespace, namespaceId, this.fromSnapshotValue(value), expiresAtMs));
    }
    if (rows.size === 0) this.rowsByKeyGroup[index] = undefined;
  }

  dispose(): void {
    this.rowsByKeyGroup.fill(undefined);
  }

  /** The snapshot form of a stored value; undefined to skip it (e.g. a map whose user keys all expired). */
  protected toSnapshotValue(value: unknown, _nowMs: number): unknown {
    return value;
  }

  /** The stored form of a snapshot value. */
  protected fromSnapshotValue(value: unknown): unknown {
    return value;
  }

  /** Checks a restored value's shape and schema; the default validates it as a whole. */
  protected validateRestored(value: unknown, keyGroup: number, operatorUid: string): void {
    this.checkSchema(value, keyGroup, operatorUid, '');
  }

  protected checkSchema(value: unknown, keyGroup: number, operatorUid: string, where: string): void {
    checkRestoredValue(this.descriptor, operatorUid, value, keyGroup, where);
  }

  protected corrupt(keyGroup: number, operatorUid: string, what: string): EddyError {
    return corruptRestoredState(this.name, operatorUid, keyGroup, what);
  }
}
