import { EddyError } from '../../core/errors.ts';
import { keyIdOf, type KeyId } from '../../core/key-codec.ts';
import { saturatingAdd } from '../../core/time.ts';
import { checkRestoredValue, corruptRestoredState } from '../backend-checks.ts';
import type { StateDescriptor, StateTtlConfig } from '../descriptors.ts';
import type { InternalKvState, NamespaceCodec } from '../keyed-state-backend.ts';
import { voidNamespaceCodec } from '../keyed-state-backend.ts';
import type { TtlTimeSource } from '../memory/memory-kv-state.ts';
import { RowKeyBuilder } from './key-layout.ts';
import type { RocksStore, RocksWrite } from './rocks-store.ts';
import { CacheEntry, estimateValueBytes, WriteBackCache, type CacheOwner } from './write-back-cache.ts';

/**
 * The key the RocksDB backend is scoped to, shared by the backend, its states and timer queues.
 * `keyGroup` is −1 before the first key is set.
 */
export class RocksCurrentKey {
  key: unknown = undefined;
  keyId: KeyId = null;
  keyGroup = -1;

  /** The key group of the current key; throws when no key has been set (an operator bug). */
  requireKeyGroup(stateName: string): number {
    const keyGroup = this.keyGroup;
    if (keyGroup < 0) throw new EddyError(`keyed state '${stateName}' was accessed before a current key was set`);
    return keyGroup;
  }
}

/** What the states and timer queues of one backend share. */
export interface RocksStateContext {
  readonly operatorUid: string;
  readonly current: RocksCurrentKey;
  readonly cache: WriteBackCache;
  readonly store: RocksStore;
  /** Reused for every row key built synchronously (never across an await). */
  readonly rowKeys: RowKeyBuilder;
  readonly ttlTime: TtlTimeSource;
}

/** The column family of state `name`. */
export function stateColumnFamily(name: string): string {
  return `s/${name}`;
}

/**
 * The column family listing which (key, namespace) maps of map state `name` have rows: one empty row
 * per non-empty map, keyed like the map's row prefix. Lets a prefetch tell an empty map by one point
 * read (batched) instead of a prefix scan, which costs ~50× more through the binding.
 */
export function mapDirectoryColumnFamily(name: string): string {
  return `d/${name}`;
}

/**
 * Bytes an entry costs besides its key, namespace and value: the object (16 fields, 8 bytes each
 * without pointer compression, plus a box for its TTL deadline, a double), its slot in the owner's
 * index (a Map entry, with the Map's spare capacity), in the CLOCK ring and in the dirty list.
 * Calibrated against the real heap by test/state/rocksdb/cache-size-estimate.test.ts (e.g. a value
 * state of doubles under short string keys: 272 bytes per row).
 */
const ENTRY_OVERHEAD_BYTES = 230;

/** A cached row of one (key, namespace) of one state. Entries of one key are chained by namespace. */
export abstract class KeyedEntry extends CacheEntry {
  /** The next entry of the same key (another namespace) in the owner's index. */
  nextInKey: KeyedEntry | undefined = undefined;
  /** Estimated bytes of the entry without its value: `sizeBytes` = this + the value's estimate. */
  baseBytes: number;
  /** Position in the owner's dirty list; −1 when clean. */
  dirtyIndex = -1;

  constructor(
    readonly owner: RocksKvState<unknown>,
    readonly key: unknown,
    readonly keyId: KeyId,
    readonly keyGroup: number,
    readonly namespace: unknown,
    readonly namespaceId: string | number,
  ) {
    super();
    this.baseBytes = ENTRY_OVERHEAD_BYTES + estimateValueBytes(key) + (namespace === 0 ? 0 : estimateValueBytes(namespace));
    this.sizeBytes = this.baseBytes;
  }
}

/** One requested row of a prefetch batch, kept until the answer is installed. */
export interface PrefetchTarget {
  readonly key: unknown;
  readonly keyId: KeyId;
  readonly keyGroup: number;
  readonly namespace: unknown;
  readonly namespaceId: string | number;
  /** Map state: the user key (undefined: the whole map, read by a scan). */
  readonly userKey: unknown;
  readonly hasUserKey: boolean;
}

/** The namespace id before a windowed state's first `setCurrentNamespace`; no codec produces it. */
const NO_NAMESPACE_ID = '\u0000no-namespace';

/**
 * What every RocksDB-backed state shares: the descriptor, the namespace, TTL time, and the state's
 * part of the write-back cache — an index `keyId ▶ entry` (entries of other namespaces of the same key
 * chained behind it), the list of dirty entries, and the writes recorded for stale-prefetch checks.
 * Subclasses define the entry (one row, or a map's rows) and how it is read, written and prefetched.
 */
/** Namespaces per key kept in a chain; more move into a Map (see {@link RocksKvState.index}). */
const CHAIN_LIMIT = 8;

export abstract class RocksKvState<N> implements InternalKvState<N>, CacheOwner {
  readonly descriptor: StateDescriptor;
  readonly namespaceCodec: NamespaceCodec<N>;
  readonly columnFamily: string;
  /** State outside windows: its namespace is always VOID and takes no bytes in row keys. */
  readonly isVoid: boolean;
  protected namespace: N;
  protected namespaceId: string | number;
  protected readonly ttl: StateTtlConfig | undefined;
  protected readonly isRefreshedOnRead: boolean;
  protected readonly isExpiredReturned: boolean;
  protected readonly context: RocksStateContext;
  protected readonly cache: WriteBackCache;
  /**
   * Cached entries by key: a short chain through `nextInKey` (a key usually has one namespace, or a
   * few windows), or — past {@link CHAIN_LIMIT} namespaces, e.g. a key with many session windows — a
   * Map by namespace id, so lookups stay O(1).
   */
  private readonly index = new Map<KeyId, KeyedEntry | Map<string | number, KeyedEntry>>();
  private dirty: KeyedEntry[] = [];
  private dirtyCount = 0;
  /** keyId ▶ prefetch sequence number current when a row of that key was last written (while prefetches are in flight). */
  private readonly writtenAt = new Map<KeyId, number>();
  /** Rows requested by the prefetch being assembled; `prefetchKeys[i]` is the row key of `prefetchTargets[i]`. */
  private prefetchTargets: PrefetchTarget[] = [];
  private prefetchKeys: Uint8Array[] = [];
  private prefetchSeen: Map<KeyId, PrefetchTarget[]> | undefined = undefined;

  constructor(descriptor: StateDescriptor, namespaceCodec: NamespaceCodec<N>, context: RocksStateContext) {
    this.descriptor = descriptor;
    this.namespaceCodec = namespaceCodec;
    this.columnFamily = stateColumnFamily(descriptor.name);
    this.isVoid = namespaceCodec === (voidNamespaceCodec as unknown);
    this.namespace = (this.isVoid ? 0 : undefined) as N;
    this.namespaceId = this.isVoid ? 0 : NO_NAMESPACE_ID;
    this.ttl = descriptor.ttl;
    this.isRefreshedOnRead = descriptor.ttl?.updateType === 'on-read-and-write';
    this.isExpiredReturned = descriptor.ttl?.visibility === 'return-expired-if-not-cleaned-up';
    this.context = context;
    this.cache = context.cache;
    context.cache.register(this);
  }

  get name(): string {
    return this.descriptor.name;
  }

  /** Whether this state belongs to the backend of `context`. */
  isOf(context: RocksStateContext): boolean {
    return this.context === context;
  }

  /** Whether stored rows carry an expiry (`[expiresAtMs, value]`): every state with a TTL. */
  get hasTtl(): boolean {
    return this.ttl !== undefined;
  }

  setCurrentNamespace(namespace: N): void {
    this.namespace = namespace;
    this.namespaceId = this.namespaceCodec.idOf(namespace);
  }

  abstract getInternal(): unknown;
  abstract updateInternal(value: unknown): void;
  abstract clear(): void;

  mergeNamespaces(_target: N, _sources: readonly N[]): void {
    throw this.cannotMerge();
  }

  protected cannotMerge(): EddyError {
    return new EddyError(
      `${this.descriptor.kind} state '${this.name}' cannot merge namespaces; only list, reducing and aggregating state can`,
    );
  }

  // ---- TTL time ----

  protected nowMs(): number {
    return this.ttl?.timeCharacteristic === 'event-time' ? this.context.ttlTime.currentWatermark() : this.context.ttlTime.clock.now();
  }

  /** Expiry of a value written or refreshed now; +∞ without TTL. */
  protected expiryFromNow(): number {
    return this.ttl === undefined ? Number.POSITIVE_INFINITY : saturatingAdd(this.nowMs(), this.ttl.ttlMs);
  }

  /** TTL "now" for whole-state operations (snapshot, key listing); undefined without TTL. */
  ttlNowMs(): number | undefined {
    return this.ttl === undefined ? undefined : this.nowMs();
  }

  // ---- the index ----

  protected find(keyId: KeyId, namespaceId: string | number): KeyedEntry | undefined {
    const head = this.index.get(keyId);
    if (head instanceof Map) return head.get(namespaceId);
    let entry = head;
    while (entry !== undefined && entry.namespaceId !== namespaceId) entry = entry.nextInKey;
    return entry;
  }

  /** Indexes a new entry and inserts it into the cache (which may evict others, never this one). */
  protected link(entry: KeyedEntry): void {
    const head = this.index.get(entry.keyId);
    if (head instanceof Map) {
      head.set(entry.namespaceId, entry);
    } else {
      let length = 0;
      for (let each = head; each !== undefined; each = each.nextInKey) length++;
      if (length < CHAIN_LIMIT) {
        entry.nextInKey = head;
        this.index.set(entry.keyId, entry);
      } else {
        const byNamespace = new Map<string | number, KeyedEntry>();
        for (let each = head; each !== undefined; ) {
          const next: KeyedEntry | undefined = each.nextInKey;
          each.nextInKey = undefined;
          byNamespace.set(each.namespaceId, each);
          each = next;
        }
        byNamespace.set(entry.namespaceId, entry);
        this.index.set(entry.keyId, byNamespace);
      }
    }
    this.cache.insert(entry);
  }

  detach(entry: CacheEntry): void {
    const keyed = entry as KeyedEntry;
    const head = this.index.get(keyed.keyId);
    if (head instanceof Map) {
      if (head.get(keyed.namespaceId) === keyed) head.delete(keyed.namespaceId);
      if (head.size === 0) this.index.delete(keyed.keyId);
    } else if (head === keyed) {
      if (keyed.nextInKey === undefined) this.index.delete(keyed.keyId);
      else this.index.set(keyed.keyId, keyed.nextInKey);
    } else {
      let previous = head;
      while (previous !== undefined && previous.nextInKey !== keyed) previous = previous.nextInKey;
      if (previous !== undefined) previous.nextInKey = keyed.nextInKey;
    }
    keyed.nextInKey = undefined;
  }

  /** Every cached entry of this state. */
  private cachedEntries(): KeyedEntry[] {
    const entries: KeyedEntry[] = [];
    for (const head of this.index.values()) {
      if (head instanceof Map) entries.push(...head.values());
      else for (let entry: KeyedEntry | undefined = head; entry !== undefined; entry = entry.nextInKey) entries.push(entry);
    }
    return entries;
  }

  /** The namespace as row keys hold it: the codec's plain form (0, no bytes, outside windows). */
  protected plainNamespace(namespace: unknown): unknown {
    return this.isVoid ? 0 : this.namespaceCodec.toPlain(namespace as N);
  }

  /** Starts the row key of (key, namespace) in the shared builder. */
  protected beginRowKey(keyGroup: number, key: unknown, namespace: unknown): RowKeyBuilder {
    return this.context.rowKeys.beginRow(keyGroup, key).namespace(this.plainNamespace(namespace));
  }

  // ---- dirty entries ----

  protected markDirty(entry: KeyedEntry): void {
    if (entry.isDirty) return;
    entry.isDirty = true;
    this.dirtyCount++;
    entry.dirtyIndex = this.dirty.length;
    this.dirty.push(entry);
  }

  collectWrites(entry: CacheEntry, writes: RocksWrite[]): void {
    const keyed = entry as KeyedEntry;
    this.cleanEntry(keyed, writes);
    // Swap-remove: an entry cleaned by eviction must not stay reachable from the dirty list.
    const dirty = this.dirty;
    const last = dirty.pop()!;
    if (last !== keyed) {
      dirty[keyed.dirtyIndex] = last;
      last.dirtyIndex = keyed.dirtyIndex;
    }
    keyed.dirtyIndex = -1;
  }

  private cleanEntry(keyed: KeyedEntry, writes: RocksWrite[]): void {
    this.appendWrites(keyed, writes);
    keyed.isDirty = false;
    this.dirtyCount--;
    if (this.cache.isRecordingWrites) this.writtenAt.set(keyed.keyId, this.cache.prefetchSeq);
  }

  collectDirty(writes: RocksWrite[]): void {
    const dirty = this.dirty;
    const cache = this.cache;
    let buffer = writes;
    try {
      for (let i = 0; i < dirty.length; i++) {
        const entry = dirty[i]!;
        this.cleanEntry(entry, buffer);
        entry.dirtyIndex = -1;
        // Into the cache's buffer, issued every 512 rows: flushing a large dirty cache makes no second copy of it.
        if (buffer === cache.pendingWrites && buffer.length >= 512) {
          cache.issueWrites();
          buffer = cache.pendingWrites;
        }
      }
      this.dirty = [];
    } catch (error) {
      // A value that cannot be encoded stays dirty (the next flush fails too); the cleaned ones leave the list.
      this.dirty = dirty.filter((entry) => entry.isDirty);
      this.dirty.forEach((entry, index) => (entry.dirtyIndex = index));
      throw error;
    }
  }

  forgetRecordedWrites(): void {
    if (this.writtenAt.size > 0) this.writtenAt.clear();
  }

  /** Appends the writes that persist `entry` (it is dirty). */
  protected abstract appendWrites(entry: KeyedEntry, writes: RocksWrite[]): void;

  /** Drops every cached entry of this state, writing dirty ones first (before a restore into it). */
  dropCached(): void {
    const writes = this.cache.pendingWrites;
    this.collectDirty(writes);
    for (const entry of this.cachedEntries()) this.cache.remove(entry);
    this.index.clear();
    this.cache.issueWrites();
  }

  // ---- prefetch ----

  /**
   * Adds (key, namespace[, userKey]) to the prefetch being assembled unless it is cached or already
   * requested. `namespaceId` must be `namespaceCodec.idOf(namespace)`.
   */
  requestPrefetch(key: unknown, keyGroup: number, namespace: unknown, userKey: unknown, hasUserKey: boolean): void {
    const keyId = keyIdOf(key);
    const namespaceId = this.isVoid ? 0 : this.namespaceCodec.idOf(namespace as N);
    if (this.isCachedForPrefetch(keyId, namespaceId, userKey, hasUserKey)) return;
    let seen = this.prefetchSeen;
    if (seen === undefined) {
      seen = new Map();
      this.prefetchSeen = seen;
    }
    const sameKey = seen.get(keyId);
    if (sameKey !== undefined) {
      for (const target of sameKey) {
        if (target.namespaceId !== namespaceId || target.hasUserKey !== hasUserKey) continue;
        if (!hasUserKey || keyIdOf(target.userKey) === keyIdOf(userKey)) return;
      }
    }
    const target: PrefetchTarget = { key, keyId, keyGroup, namespace, namespaceId, userKey, hasUserKey };
    if (sameKey === undefined) seen.set(keyId, [target]);
    else sameKey.push(target);
    const rowKey = this.beginRowKey(keyGroup, key, namespace);
    if (hasUserKey) rowKey.userKey(userKey);
    this.prefetchTargets.push(target);
    this.prefetchKeys.push(rowKey.copy());
  }

  /** Whether a prefetch of this row would be useless (the cache can answer it). */
  protected abstract isCachedForPrefetch(keyId: KeyId, namespaceId: string | number, userKey: unknown, hasUserKey: boolean): boolean;

  /**
   * Issues the rows requested since the last call as one multi-get (and, for whole maps, scans);
   * undefined when none were requested. The answer is installed when it arrives, unless stale.
   */
  issuePrefetch(): Promise<void> | undefined {
    const targets = this.prefetchTargets;
    if (targets.length === 0) return undefined;
    const keys = this.prefetchKeys;
    this.prefetchTargets = [];
    this.prefetchKeys = [];
    this.prefetchSeen = undefined;
    return this.readPrefetch(targets, keys);
  }

  /** Reads the requested rows and installs them; see {@link issuePrefetch}. */
  protected readPrefetch(targets: PrefetchTarget[], keys: Uint8Array[]): Promise<void> {
    const cache = this.cache;
    const seq = cache.beginPrefetchRead();
    return this.context.store.multiGet(this.columnFamily, keys).then(
      (values) => {
        // Install before the in-flight count drops: at 0, the writes recorded for the staleness check are forgotten.
        try {
          this.installAll(targets, values, seq);
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

  private installAll(targets: readonly PrefetchTarget[], values: ReadonlyArray<Uint8Array | null>, seq: number): void {
    const metrics = this.cache.metrics;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i]!;
      if (WriteBackCache.isStale(this.writtenAt.get(target.keyId), seq) || !this.install(target, values[i] ?? null)) {
        metrics.prefetchDropped++;
      } else {
        metrics.prefetched++;
      }
    }
  }

  /** Installs one prefetched row unless the cache knows it already; returns whether it did. */
  protected abstract install(target: PrefetchTarget, value: Uint8Array | null): boolean;

  /** Whether the prefetched rows of `keyId` are stale (written since prefetch `seq` was issued). */
  protected isWrittenSince(keyId: KeyId, seq: number): boolean {
    return WriteBackCache.isStale(this.writtenAt.get(keyId), seq);
  }

  // ---- restore validation ----

  /** Checks a restored value against the descriptor's schema; the message names the key group. */
  checkSchema(value: unknown, keyGroup: number, where: string): void {
    checkRestoredValue(this.descriptor, this.context.operatorUid, value, keyGroup, where);
  }

  protected corrupt(keyGroup: number, what: string): EddyError {
    return corruptRestoredState(this.name, this.context.operatorUid, keyGroup, what);
  }

  /** Validates one stored (decoded) value of this state's kind against the schema. */
  abstract validateStored(value: unknown, keyGroup: number): void;

  dispose(): void {
    this.index.clear();
    this.dirty = [];
    this.dirtyCount = 0;
    this.writtenAt.clear();
  }
}
