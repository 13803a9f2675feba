import type { ZodType } from 'zod';
import { ConfigurationError, EddyError } from '../../core/errors.ts';
import { keyIdOf, type KeyId } from '../../core/key-codec.ts';
import { saturatingAdd, type Clock } from '../../core/time.ts';
import type { StateDescriptor, StateTtlConfig } from '../descriptors.ts';
import type { InternalKvState, NamespaceCodec, StateEntrySnapshot } from '../keyed-state-backend.ts';
import type { CurrentKey } from './current-key.ts';

/** One stored value: a (key, namespace) cell of one state. `expiresAtMs` is +∞ without TTL. */
export class StateEntry {
  /** Set when the entry leaves the table, so a holder knows to re-insert rather than update in place. */
  isRemoved = false;

  constructor(
    readonly namespace: unknown,
    public value: unknown,
    public expiresAtMs: number,
  ) {}
}

/** All entries of one key in one state, by namespace id. `key` is the original key, for snapshots. */
export class KeyRow {
  readonly entries = new Map<string | number, StateEntry>();

  constructor(readonly key: unknown) {}
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
 * kinds. Layout: `rowsByKeyGroup[keyGroup − range.start]` ▶ Map<keyIdOf(key), KeyRow> ▶ Map<namespace
 * id, StateEntry>; a key group's map exists only once it holds a key. Values are held by reference.
 *
 * TTL (when the descriptor has one): an entry expires at `lastWrite (or lastRead, for
 * 'on-read-and-write') + ttlMs`, measured on the processing-time clock or the watermark; it is expired
 * when `expiresAtMs ≤ now`. An access that finds an expired entry removes it and returns nothing — or,
 * with 'return-expired-if-not-cleaned-up', returns it that one last time (Flink's semantics). Snapshots
 * skip expired entries. Cost of an access: three Map lookups.
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
    return rows?.get(this.current.keyId)?.entries.get(namespaceId);
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
    let entry = row.entries.get(namespaceId);
    const expiresAtMs = this.hasEntryTtl ? this.expiryFromNow() : Number.POSITIVE_INFINITY;
    if (entry === undefined) {
      entry = new StateEntry(namespace, value, expiresAtMs);
      row.entries.set(namespaceId, entry);
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
    const entry = row.entries.get(namespaceId);
    if (entry === undefined) return;
    entry.isRemoved = true;
    row.entries.delete(namespaceId);
    if (row.entries.size === 0) rows.delete(this.current.keyId);
  }

  // ---- whole-state operations (not per record) ----

  /** Keys with a live entry under `namespaceId`, in no particular order. O(keys). */
  getKeys(namespaceId: string | number): unknown[] {
    const keys: unknown[] = [];
    const nowMs = this.hasEntryTtl ? this.nowMs() : 0;
    for (const rows of this.rowsByKeyGroup) {
      if (rows === undefined) continue;
      for (const row of rows.values()) {
        const entry = row.entries.get(namespaceId);
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
      for (const entry of row.entries.values()) {
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
      row.entries.set(namespaceId, new StateEntry(namespace, this.fromSnapshotValue(value), expiresAtMs));
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
    const schema = this.descriptor.schema as ZodType<unknown> | undefined;
    if (schema === undefined) return;
    const result = schema.safeParse(value);
    if (result.success) return;
    const issue = result.error.issues[0];
    const path = issue === undefined || issue.path.length === 0 ? '' : ` at '${issue.path.map(String).join('.')}'`;
    throw new ConfigurationError(
      `restoring state '${this.name}' of operator '${operatorUid}' (key group ${keyGroup}): a stored ${where}value does ` +
        `not match the state's schema${path}: ${issue?.message ?? 'invalid'}. Make the schema accept the stored ` +
        `values (or bump the descriptor version and migrate them), or restore without this state.`,
      { operatorUid },
    );
  }

  protected corrupt(keyGroup: number, operatorUid: string, what: string): EddyError {
    return new EddyError(
      `restoring state '${this.name}' of operator '${operatorUid}' (key group ${keyGroup}): ${what}; the snapshot is corrupt`,
      { operatorUid },
    );
  }
}
