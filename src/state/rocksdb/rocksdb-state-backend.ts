import { rmSync } from 'node:fs';
import { assertNever, ConfigurationError, EddyError, describeError } from '../../core/errors.ts';
import { keyIdOf, type KeyId } from '../../core/key-codec.ts';
import { assignToKeyGroup, type KeyGroupRange } from '../../core/key-group.ts';
import { saturatingAdd } from '../../core/time.ts';
import type { StateDescriptor } from '../descriptors.ts';
import type {
  InternalKvState,
  KeyedStateBackend,
  KeyedStateBackendOptions,
  KeyedStateSnapshot,
  KeyGroupSnapshot,
  NamespaceCodec,
  NativeKeyedStateRestore,
  NativeKeyedStateSnapshot,
  NativeStateKind,
  StateEntrySnapshot,
  StateSnapshot,
  TimerQueue,
  TimerQueueSnapshot,
  TimerSnapshot,
} from '../keyed-state-backend.ts';
import { VOID_NAMESPACE, voidNamespaceCodec } from '../keyed-state-backend.ts';
import { KeyedStateAccessors } from '../keyed-state-accessors.ts';
import { latin1, RowKeyBuilder, RowKeyReader, ROWS_START, successor, TIMER_ROWS_END } from './key-layout.ts';
import type { OpenRocksStoreSync, RocksStore, RocksWrite } from './rocks-store.ts';
import { RocksAggregatingState } from './rocksdb-aggregating-state.ts';
import { mapDirectoryColumnFamily, RocksCurrentKey, RocksKvState, stateColumnFamily, type RocksStateContext } from './rocksdb-kv-state.ts';
import { RocksListState } from './rocksdb-list-state.ts';
import { RocksMapState } from './rocksdb-map-state.ts';
import { RocksReducingState } from './rocksdb-reducing-state.ts';
import { RocksTimerQueue, timerColumnFamily } from './rocksdb-timer-queue.ts';
import { RocksValueState } from './rocksdb-value-state.ts';
import {
  checkBackendKeyGroupRange,
  checkRestoredStateKind,
  checkSameNamespaceUse,
  checkSameStateKind,
  checkSnapshotMaxParallelism,
  keyOutsideRange,
} from '../backend-checks.ts';
import { captureNative, restoreNative, type RestoredFiles } from './native-state.ts';
import { openRocksStoreSync } from './store/rocks-store-client.ts';
import { hasRestoredExpiry, rangeBounds, restoredRows, snapshotRows, type RestoreTarget, type RowForm } from './state-row-snapshots.ts';
import { decodeRow, encodeRow, SCAN_CHUNK_ROWS, scanRowsSync, type DecodedRow } from './state-rows.ts';
import { WriteBackCache, type StateCacheMetrics } from './write-back-cache.ts';

/** Default cache budget: 64 MiB. */
export const DEFAULT_STATE_MEMORY_BYTES = 64 * 1024 * 1024;

/** What a RocksDB backend needs besides the common options. */
export interface RocksDBStateBackendOptions extends KeyedStateBackendOptions {
  /** The database folder of this operator subtask (created if missing). */
  readonly path: string;
  /** Budget of the write-back cache, bytes (estimated heap bytes of cached rows). Default 64 MiB. */
  readonly memoryBudgetBytes?: number;
  /** Opens the store; default: a database in this thread's state I/O thread. */
  readonly openStore?: OpenRocksStoreSync;
}

/** Restored state whose descriptor was not registered yet: its rows are in RocksDB already. */
interface PendingState {
  readonly kind: StateDescriptor['kind'];
  readonly version: number;
  /** The form its rows were written in (chosen by the first restored entry). */
  readonly form: RowForm;
  /** Some TTL rows were restored without an expiry (`[null, value]`): registration gives them one. */
  hasMissingExpiry: boolean;
}

/** A state of this backend: its name, or the object `getPartitionedState` (or `get*State`) returned. */
type StateRef = string | InternalKvState<unknown> | object;

/**
 * The keyed state backend that keeps state in RocksDB (one database per operator subtask, one column
 * family per state `s/<name>` and per timer queue `t/<name>`; row layout in `key-layout.ts`), behind a
 * bounded write-back cache of decoded values in the task's thread (`write-back-cache.ts`). State can be
 * larger than memory; what a batch touches is read ahead with {@link prefetchEntry} ▶ {@link endPrefetch}
 * (one multi-get per column family), so processing stays synchronous and rarely blocks; anything not
 * prefetched is read with a blocking request (≈ 0.2 ms) — correct, only slower. It implements the
 * {@link KeyedStateBackend} contract with the memory backend's semantics and passes the same
 * conformance suite; values are held by copy (decoded from RocksDB) once they left the cache.
 *
 * Invariants: every row belongs to a key group of `keyGroupRange`; a state name has one kind for the life of
 * the backend; restored state is written to RocksDB at once, and checked (kind, schema, TTL form) when
 * the operator registers it; the cache answers exactly what RocksDB overlaid with the cache's dirty
 * entries holds.
 *
 * Costs: `setCurrentKey` as in the memory backend; a cached state access one Map lookup (or none: the
 * state remembers the entry of its last access); a miss one blocking multi-get; `snapshot` flushes the
 * dirty entries and scans every column family (blocking, in chunks) — O(state), as a canonical
 * snapshot must be; `restore` writes every owned row.
 */
export class RocksDBStateBackend extends KeyedStateAccessors implements KeyedStateBackend {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  /** The store, for native checkpoints. Write {@link flushDirty} first. */
  get store(): RocksStore {
    return this.rocks;
  }
  private rocks: RocksStore;
  private readonly openStore: OpenRocksStoreSync;
  /** SST files of the database that came from the restored checkpoint (incremental reuse). */
  private restoredFiles: RestoredFiles = new Map();
  /**
   * The states of a natively restored database not registered yet, by name: their kind (checked when
   * the state registers), row form and schema version. Registering adopts the rows (schema, TTL form).
   */
  private nativeStates = new Map<string, NativeStateKind>();
  private readonly operatorUid: string;
  private readonly subtask: number;
  private readonly current = new RocksCurrentKey();
  private cache: WriteBackCache;
  private context: RocksStateContext;
  private readonly maxHeapTimers: number;
  /** Column families in the database when it was opened (state from a native checkpoint). */
  private familiesAtOpen: ReadonlySet<string>;
  private readonly states = new Map<string, RocksKvState<unknown>>();
  private readonly timerQueues = new Map<string, RocksTimerQueue<unknown>>();
  private readonly pendingStates = new Map<string, PendingState>();
  private readonly pendingTimerCounts = new Map<string, number>();
  /** Owners with rows requested by the prefetch being assembled. */
  private prefetchOwners: Array<RocksKvState<unknown> | RocksTimerQueue<unknown>> = [];
  /**
   * The keys {@link prefetchKey} saw for the batch being prefetched, in order, with their key groups:
   * processing then sets the same keys in the same order, and `setCurrentKey` takes the group from here
   * instead of hashing the key again. A key that does not match the next one is hashed (always correct).
   */
  private readonly batchKeys: unknown[] = [];
  private readonly batchKeyGroups: number[] = [];
  private batchKeyCount = 0;
  private batchKeyCursor = 0;
  private isDisposed = false;
  /** Where {@link cleanupExpiredRows} goes on: the state (by position among states with TTL) and the row. */
  private readonly cleanupCursor: { stateIndex: number; from: Uint8Array | undefined } = { stateIndex: 0, from: undefined };

  constructor(options: RocksDBStateBackendOptions) {
    super();
    this.maxParallelism = options.maxParallelism;
    this.keyGroupRange = options.keyGroupRange;
    this.operatorUid = options.operatorUid;
    this.subtask = options.subtask;
    checkBackendKeyGroupRange(options);
    const budgetBytes = options.memoryBudgetBytes ?? DEFAULT_STATE_MEMORY_BYTES;
    if (!Number.isInteger(budgetBytes) || budgetBytes < 1024) {
      throw new ConfigurationError(`the state memory budget must be a whole number of bytes ≥ 1024, got ${budgetBytes}`);
    }
    this.openStore = options.openStore ?? openRocksStoreSync;
    this.rocks = this.openStore({ path: options.path, columnFamilies: [] });
    this.familiesAtOpen = new Set(this.rocks.columnFamilies);
    this.cache = new WriteBackCache(this.rocks, budgetBytes, this.rocks.path);
    this.context = {
      operatorUid: options.operatorUid,
      current: this.current,
      cache: this.cache,
      store: this.rocks,
      rowKeys: new RowKeyBuilder(),
      ttlTime: { clock: options.clock, currentWatermark: options.currentWatermark },
    };
    // A heap timer costs about 250 bytes (object, row-key string, index slot), outside the cache's
    // budget: a queue's heap holds at most budget/4096 timers, about 1/16 of the budget.
    this.maxHeapTimers = Math.max(64, Math.floor(budgetBytes / 4096));
  }

  /** The write-back cache's budget, bytes. */
  get cacheBudgetBytes(): number {
    return this.cache.budgetBytes;
  }

  /** Cache and I/O counters (see {@link StateCacheMetrics}). */
  get metrics(): Readonly<StateCacheMetrics> {
    return this.cache.metrics;
  }

  // ---- current key ----

  setCurrentKey(key: unknown): void {
    const cursor = this.batchKeyCursor;
    if (cursor < this.batchKeyCount && this.batchKeys[cursor] === key) {
      this.batchKeyCursor = cursor + 1;
      this.setCurrentKeyWithGroup(key, this.batchKeyGroups[cursor]!);
      return;
    }
    this.setCurrentKeyWithGroup(key, assignToKeyGroup(key, this.maxParallelism));
  }

  setCurrentKeyWithGroup(key: unknown, keyGroup: number): void {
    if (!this.keyGroupRange.contains(keyGroup)) {
      throw keyOutsideRange(this.operatorUid, this.subtask, key, keyGroup, this.keyGroupRange);
    }
    const current = this.current;
    current.key = key;
    current.keyId = keyIdOf(key);
    current.keyGroup = keyGroup;
  }

  getCurrentKey(): unknown {
    return this.current.key;
  }

  getCurrentKeyId(): KeyId {
    return this.current.keyId;
  }

  getCurrentKeyGroup(): number {
    return this.current.keyGroup;
  }

  // ---- states ----

  getPartitionedState<N>(descriptor: StateDescriptor, namespaceCodec: NamespaceCodec<N>): InternalKvState<N> {
    const existing = this.states.get(descriptor.name);
    if (existing !== undefined) {
      this.checkSameKind(existing.descriptor.kind, descriptor);
      checkSameNamespaceUse(this.operatorUid, descriptor.name, existing.isVoid, namespaceCodec === (voidNamespaceCodec as unknown));
      return existing as unknown as InternalKvState<N>;
    }
    const native = this.nativeStates.get(descriptor.name);
    if (native !== undefined) checkRestoredStateKind(this.operatorUid, native.kind, descriptor, 'checkpointed');
    const pending = this.pendingStates.get(descriptor.name);
    if (pending !== undefined) checkRestoredStateKind(this.operatorUid, pending.kind, descriptor, 'snapshotted');
    this.rocks.addColumnFamiliesSync(
      descriptor.kind === 'map' ? [stateColumnFamily(descriptor.name), mapDirectoryColumnFamily(descriptor.name)] : [stateColumnFamily(descriptor.name)],
    );
    const state = this.createState(descriptor, namespaceCodec);
    // Rows restored canonically (pending) or natively (in the database already) must fit the new registration.
    const restored: PendingState | undefined =
      pending ??
      (native === undefined
        ? undefined
        : {
            kind: native.kind,
            version: native.version ?? 1,
            // Checkpoints that did not record the form were taken with the same TTL setting (assumed).
            form: { isMap: native.kind === 'map', hasTtl: native.hasTtl ?? state.hasTtl },
            hasMissingExpiry: false,
          });
    if (restored !== undefined) {
      try {
        this.adoptRestoredRows(state as unknown as RocksKvState<unknown>, restored);
      } catch (error) {
        // The state stays unregistered and its restored rows pending: a later registration may pass.
        this.cache.unregister(state);
        throw error;
      }
      this.pendingStates.delete(descriptor.name);
      this.nativeStates.delete(descriptor.name);
    }
    this.states.set(descriptor.name, state as unknown as RocksKvState<unknown>);
    return state;
  }

  private createState<N>(descriptor: StateDescriptor, codec: NamespaceCodec<N>): RocksKvState<N> {
    const context = this.context;
    switch (descriptor.kind) {
      case 'value':
        return new RocksValueState<N>(descriptor, codec, context);
      case 'list':
        return new RocksListState<N>(descriptor, codec, context);
      case 'map':
        return new RocksMapState<N>(descriptor, codec, context);
      case 'reducing':
        return new RocksReducingState<N>(descriptor, codec, context);
      case 'aggregating':
        return new RocksAggregatingState<N>(descriptor, codec, context);
      default:
        return assertNever(descriptor, 'state kind');
    }
  }

  private checkSameKind(kind: StateDescriptor['kind'], descriptor: StateDescriptor): void {
    checkSameStateKind(this.operatorUid, kind, descriptor);
  }

  /**
   * Checks restored rows against the registered descriptor (schema) and rewrites them when the TTL
   * setting differs from the snapshot's (a fresh expiry from now, or none). One blocking pass over the
   * state's rows, only when there is a schema or a TTL difference; nothing is written unless every row passes.
   */
  private adoptRestoredRows(state: RocksKvState<unknown>, pending: PendingState): void {
    const target: RowForm = { isMap: pending.form.isMap, hasTtl: state.hasTtl };
    const isRewritten = target.hasTtl !== pending.form.hasTtl || (target.hasTtl && pending.hasMissingExpiry);
    if (!isRewritten && state.descriptor.schema === undefined) return;
    const reader = new RowKeyReader();
    const decoded: DecodedRow = { value: undefined, expiresAtMs: 0 };
    const writes: RocksWrite[] = [];
    const freshExpiryMs = (): number => saturatingAdd(this.ttlNow(state), state.descriptor.ttl?.ttlMs ?? 0);
    this.cache.beforeRead();
    const { gte, lt } = rangeBounds(this.keyGroupRange);
    this.cache.metrics.blockingScans += scanRowsSync(this.rocks, state.columnFamily, gte, lt, (rowKey, value) => {
      decodeRow(value, pending.form.hasTtl, decoded, state.name);
      const keyGroup = reader.readRow(rowKey).keyGroup;
      state.validateStored(decoded.value, keyGroup);
      if (!isRewritten) return;
      let expiresAtMs = decoded.expiresAtMs;
      if (target.hasTtl && !Number.isFinite(expiresAtMs)) expiresAtMs = freshExpiryMs();
      writes.push({
        kind: 'put',
        columnFamily: state.columnFamily,
        key: rowKey.slice(),
        value: encodeRow(decoded.value, expiresAtMs, target.hasTtl, state.name),
      });
    });
    for (const write of writes) this.cache.addWrite(write);
    this.cache.issueWrites();
  }

  private ttlNow(state: RocksKvState<unknown>): number {
    const ttlTime = this.context.ttlTime;
    return state.descriptor.ttl?.timeCharacteristic === 'event-time' ? ttlTime.currentWatermark() : ttlTime.clock.now();
  }

  getKeys(stateName: string, namespaceId: string | number): unknown[] {
    const state = this.states.get(stateName);
    if (state === undefined) {
      if (!this.pendingStates.has(stateName)) return [];
      throw new EddyError(`getKeys('${stateName}') on operator '${this.operatorUid}': register the state before listing its keys`);
    }
    // Dirty rows of this state go out first: RocksDB then holds everything the cache knows.
    state.collectDirty(this.cache.pendingWrites);
    this.cache.beforeRead();
    const keys: unknown[] = [];
    const reader = new RowKeyReader();
    const decoded: DecodedRow = { value: undefined, expiresAtMs: 0 };
    const nowMs = state.ttlNowMs();
    const namespaceIds = new Map<string, string | number>();
    let previousPrefix = '';
    const { gte, lt } = rangeBounds(this.keyGroupRange);
    this.cache.metrics.blockingScans += scanRowsSync(this.rocks, state.columnFamily, gte, lt, (rowKey, value) => {
      reader.readRow(rowKey);
      const prefix = latin1(rowKey, 0, reader.namespaceEnd);
      // Map rows of a key and namespace are adjacent; list the key once.
      if (prefix === previousPrefix) return;
      const namespaceBytes = prefix.slice(reader.namespaceStart);
      let id = namespaceIds.get(namespaceBytes);
      if (id === undefined) {
        id = state.namespaceCodec.idOf(state.namespaceCodec.fromPlain(reader.namespacePlain()));
        namespaceIds.set(namespaceBytes, id);
      }
      if (id !== namespaceId) return;
      if (nowMs !== undefined && decodeRow(value, true, decoded, stateName).expiresAtMs <= nowMs) return;
      previousPrefix = prefix;
      keys.push(reader.key());
    });
    return keys;
  }

  // ---- timers ----

  getTimerQueue<N>(name: string, namespaceCodec: NamespaceCodec<N>): TimerQueue<N> {
    const existing = this.timerQueues.get(name);
    if (existing !== undefined) return existing as unknown as TimerQueue<N>;
    const columnFamily = timerColumnFamily(name);
    let storedCount = this.pendingTimerCounts.get(name) ?? 0;
    if (!this.pendingTimerCounts.has(name) && this.familiesAtOpen.has(columnFamily)) storedCount = this.countRows(columnFamily);
    this.rocks.addColumnFamiliesSync([columnFamily]);
    const queue = new RocksTimerQueue<N>(name, namespaceCodec, this.context, this.maxHeapTimers, storedCount);
    this.pendingTimerCounts.delete(name);
    this.timerQueues.set(name, queue as unknown as RocksTimerQueue<unknown>);
    return queue;
  }

  private countRows(columnFamily: string): number {
    let count = 0;
    this.cache.metrics.blockingScans += scanRowsSync(this.rocks, columnFamily, ROWS_START, TIMER_ROWS_END, () => {
      count++;
    });
    return count;
  }

  // ---- prefetch ----

  /**
   * Starts assembling a prefetch: the state rows and timer rows a batch of records will touch, added
   * with {@link prefetchEntry} and {@link prefetchTimer}, read with {@link endPrefetch}.
   */
  beginPrefetch(): void {
    this.prefetchOwners.length = 0;
    this.batchKeyCount = 0;
    this.batchKeyCursor = 0;
  }

  /**
   * Adds the row of (key, namespace) of a state — or, for map state, of one user key (`userKey`
   * defined) or the whole map (`userKey` undefined) — unless the cache holds it or it was added
   * already. `keyGroup` must be the key's key group. O(1) and no I/O.
   */
  prefetchEntry(state: StateRef, key: unknown, keyGroup: number, namespace: unknown, userKey?: unknown): void {
    const target = typeof state === 'string' ? this.states.get(state) : state;
    if (!(target instanceof RocksKvState) || !target.isOf(this.context)) {
      const what = typeof state === 'string' ? `state '${state}'` : 'that state';
      throw new EddyError(`prefetch on operator '${this.operatorUid}': ${what} is not registered with this backend`);
    }
    this.noteOwner(target);
    target.requestPrefetch(key, keyGroup, namespace, userKey, userKey !== undefined && target.descriptor.kind === 'map');
  }

  /**
   * Adds what processing a record of `key` reads: the row of every state used outside windows and, for
   * each of `namespaces` (the record's windows), the row of every state used per window. Map states are
   * read whole (one prefix scan each: slower; user keys are not known ahead).
   */
  prefetchKey(key: unknown, keyGroup: number, namespaces: readonly unknown[] = [], states?: readonly string[]): void {
    const count = this.batchKeyCount;
    this.batchKeys[count] = key;
    this.batchKeyGroups[count] = keyGroup;
    this.batchKeyCount = count + 1;
    // The states are this backend's own: no registration check per row (as prefetchEntry makes).
    for (const state of this.states.values()) {
      if (states !== undefined && !states.includes(state.descriptor.name)) continue;
      this.noteOwner(state);
      if (state.isVoid) state.requestPrefetch(key, keyGroup, VOID_NAMESPACE, undefined, false);
      else for (const namespace of namespaces) state.requestPrefetch(key, keyGroup, namespace, undefined, false);
    }
  }

  /** Adds the row of a timer that `add` or `remove` will look up (timers beyond the in-memory heap). */
  prefetchTimer(queueName: string, key: unknown, keyGroup: number, timestamp: number, namespace: unknown): void {
    const queue = this.timerQueues.get(queueName);
    if (queue === undefined) throw new EddyError(`prefetch on operator '${this.operatorUid}': timer queue '${queueName}' does not exist`);
    this.noteOwner(queue);
    queue.requestPrefetch(key, keyGroup, timestamp, namespace);
  }

  private noteOwner(owner: RocksKvState<unknown> | RocksTimerQueue<unknown>): void {
    const owners = this.prefetchOwners;
    if (owners.length === 0 || owners[owners.length - 1] !== owner) {
      if (!owners.includes(owner)) owners.push(owner);
    }
  }

  /**
   * Issues the prefetch: one multi-get per column family with requested rows. Undefined when nothing
   * had to be read (no promise is made); otherwise a promise that settles once the rows are cached.
   * Rows written after this call are never overwritten by its (older) answer.
   */
  endPrefetch(): Promise<void> | undefined {
    const owners = this.prefetchOwners;
    if (owners.length === 0) return undefined;
    let single: Promise<void> | undefined;
    let all: Array<Promise<void>> | undefined;
    for (const owner of owners) {
      const read = owner.issuePrefetch();
      if (read === undefined) continue;
      if (single === undefined) single = read;
      else (all ??= [single]).push(read);
    }
    owners.length = 0;
    return all === undefined ? single : Promise.all(all).then(() => undefined);
  }

  // ---- TTL cleanup ----

  /**
   * Background TTL cleanup, incremental: reads up to `maxRows` rows of one state with a TTL (one
   * blocking scan), deletes those expired, and remembers where it stopped — the next call goes on from
   * there, then to the next state, round-robin. Returns the number of rows deleted. (Canonical
   * snapshots delete every expired row they meet; call this where snapshots are native, e.g. once per
   * checkpoint.) Expired rows still cached are cleaned when accessed, as always.
   */
  cleanupExpiredRows(maxRows = SCAN_CHUNK_ROWS): number {
    const states = [...this.states.values()].filter((state) => state.hasTtl);
    if (states.length === 0) return 0;
    const cursor = this.cleanupCursor;
    const state = states[cursor.stateIndex % states.length]!;
    const nowMs = state.ttlNowMs()!;
    const { gte, lt } = rangeBounds(this.keyGroupRange);
    const decoded: DecodedRow = { value: undefined, expiresAtMs: 0 };
    this.cache.beforeRead();
    const { keys, values } = this.rocks.scanSync({ columnFamily: state.columnFamily, gte: cursor.from ?? gte, lt, limit: maxRows });
    this.cache.metrics.blockingScans++;
    let deleted = 0;
    for (let i = 0; i < keys.length; i++) {
      if (decodeRow(values[i]!, true, decoded, state.name).expiresAtMs > nowMs) continue;
      this.cache.addWrite({ kind: 'delete', columnFamily: state.columnFamily, key: keys[i]!.slice() });
      deleted++;
    }
    this.cache.issueWrites();
    if (keys.length < maxRows) {
      cursor.stateIndex = (cursor.stateIndex + 1) % states.length;
      cursor.from = undefined;
    } else {
      cursor.from = successor(keys[keys.length - 1]!);
    }
    return deleted;
  }

  // ---- snapshot / restore ----

  /** Hands every dirty cache entry to the store (entries stay cached, clean). For native checkpoints. */
  /**
   * Native checkpoint: issues the dirty cache entries, then RocksDB's checkpoint (flush ▶ hard-link the
   * SSTs). Requests run in order, so the capture holds exactly the state as of this call. An incremental
   * slice of expired TTL rows is deleted first (RocksDB has no TTL compaction filter here).
   */
  snapshotNative(checkpointId: number): Promise<NativeKeyedStateSnapshot> {
    this.cleanupExpiredRows();
    // Timers in the queues' in-memory heaps have no row yet: a native capture would miss them.
    for (const queue of this.timerQueues.values()) queue.persistHeap();
    this.flushDirty();
    // Restored states not registered (yet) keep what was recorded of them; their rows are as restored.
    const states = new Map(this.nativeStates);
    for (const [name, state] of this.states) {
      states.set(name, { name, kind: state.descriptor.kind, hasTtl: state.hasTtl, version: state.descriptor.version });
    }
    return captureNative(this.rocks, checkpointId, {
      maxParallelism: this.maxParallelism,
      keyGroupRange: this.keyGroupRange,
      restoredFiles: this.restoredFiles,
      states: [...states.values()],
    });
  }

  /**
   * Rebuilds the database from old subtasks' native checkpoints (see `native-state.ts`): replaces the
   * empty database opened by the constructor. Before any state access.
   */
  restoreNative(snapshots: readonly NativeKeyedStateRestore[]): void {
    if (this.states.size > 0 || this.timerQueues.size > 0 || this.pendingStates.size > 0) {
      throw new EddyError(`operator '${this.operatorUid}': native state must be restored before any state is used or restored`);
    }
    const databasePath = this.rocks.path;
    this.rocks.closeSync();
    rmSync(databasePath, { recursive: true, force: true });
    const { store, restoredFiles } = restoreNative(databasePath, snapshots, this.keyGroupRange, (options) => this.openStore(options));
    this.rocks = store;
    this.restoredFiles = restoredFiles;
    const states = new Map<string, NativeStateKind>();
    for (const snapshot of snapshots) {
      for (const recorded of snapshot.states ?? []) {
        const other = states.get(recorded.name);
        if (other !== undefined && other.kind !== recorded.kind) {
          throw new EddyError(
            `operator '${this.operatorUid}': state '${recorded.name}' appears as both ${other.kind} and ${recorded.kind} state in the restored checkpoints`,
          );
        }
        if (other !== undefined && other.hasTtl !== recorded.hasTtl) {
          throw new EddyError(
            `operator '${this.operatorUid}': state '${recorded.name}' has rows with and without TTL in the restored checkpoints`,
          );
        }
        states.set(recorded.name, recorded);
      }
    }
    this.nativeStates = states;
    this.familiesAtOpen = new Set(store.columnFamilies);
    this.cache = new WriteBackCache(store, this.cache.budgetBytes, store.path);
    this.context = { ...this.context, cache: this.cache, store };
  }

  flushDirty(): void {
    this.cache.flushDirty();
  }

  snapshot(): KeyedStateSnapshot {
    this.cache.flushDirty();
    const range = this.keyGroupRange;
    const statesByIndex = new Array<StateSnapshot[] | undefined>(range.size);
    const expired: RocksWrite[] = [];
    type ByKeyGroup = Array<StateEntrySnapshot[] | undefined>;
    const addStates = (name: string, kind: StateDescriptor['kind'], version: number, byKeyGroup: ByKeyGroup): void => {
      for (let index = 0; index < byKeyGroup.length; index++) {
        const entries = byKeyGroup[index];
        if (entries !== undefined) (statesByIndex[index] ??= []).push({ name, kind, version, entries });
      }
    };
    for (const state of this.states.values()) {
      const { descriptor, columnFamily } = state;
      const form: RowForm = { isMap: descriptor.kind === 'map', hasTtl: state.hasTtl };
      const onExpired = (key: Uint8Array): void => {
        expired.push({ kind: 'delete', columnFamily, key });
      };
      const { byKeyGroup, scans } = snapshotRows(this.rocks, columnFamily, form, range, state.ttlNowMs(), state.name, onExpired);
      this.cache.metrics.blockingScans += scans;
      addStates(descriptor.name, descriptor.kind, descriptor.version, byKeyGroup);
    }
    // Restored but not yet registered: passed through as restored (their TTL clock is unknown).
    for (const [name, pending] of this.pendingStates) {
      const columnFamily = stateColumnFamily(name);
      const { byKeyGroup, scans } = snapshotRows(this.rocks, columnFamily, pending.form, range, undefined, name, () => undefined);
      this.cache.metrics.blockingScans += scans;
      addStates(name, pending.kind, pending.version, byKeyGroup);
    }
    const timersByIndex = new Array<TimerQueueSnapshot[] | undefined>(range.size);
    const addTimers = (name: string, byKeyGroup: Array<TimerSnapshot[] | undefined>): void => {
      for (let index = 0; index < byKeyGroup.length; index++) {
        const timers = byKeyGroup[index];
        if (timers !== undefined) (timersByIndex[index] ??= []).push({ name, timers });
      }
    };
    for (const [name, queue] of this.timerQueues) addTimers(name, queue.snapshotByKeyGroup(range));
    for (const name of this.pendingTimerCounts.keys()) addTimers(name, this.snapshotPendingTimers(name));
    const keyGroups: KeyGroupSnapshot[] = [];
    for (let index = 0; index < range.size; index++) {
      const states = statesByIndex[index] ?? [];
      const timerQueues = timersByIndex[index] ?? [];
      if (states.length > 0 || timerQueues.length > 0) keyGroups.push({ keyGroup: range.start + index, states, timerQueues });
    }
    // Background TTL cleanup: the rows this snapshot found expired are deleted.
    for (const write of expired) this.cache.addWrite(write);
    this.cache.issueWrites();
    return { format: 'eddy-keyed-state/1', maxParallelism: this.maxParallelism, keyGroups };
  }

  private snapshotPendingTimers(name: string): Array<TimerSnapshot[] | undefined> {
    const range = this.keyGroupRange;
    const byKeyGroup = new Array<TimerSnapshot[] | undefined>(range.size);
    const reader = new RowKeyReader();
    this.cache.metrics.blockingScans += scanRowsSync(this.rocks, timerColumnFamily(name), ROWS_START, TIMER_ROWS_END, (rowKey) => {
      reader.readTimer(rowKey);
      if (!range.contains(reader.keyGroup)) return;
      (byKeyGroup[reader.keyGroup - range.start] ??= []).push([reader.timestampMs, reader.key(), reader.namespacePlain()]);
    });
    return byKeyGroup;
  }

  restore(snapshots: readonly KeyedStateSnapshot[]): void {
    for (const snapshot of snapshots) {
      if (snapshot.format !== 'eddy-keyed-state/1') {
        throw new EddyError(
          `operator '${this.operatorUid}': keyed-state snapshot format '${String(snapshot.format)}' is not supported ` +
            "(expected 'eddy-keyed-state/1')",
          { operatorUid: this.operatorUid, subtask: this.subtask },
        );
      }
      checkSnapshotMaxParallelism(this.operatorUid, this.subtask, this.maxParallelism, snapshot.maxParallelism);
    }
    // Anything cached goes out first, so that restored rows are the last word (restore precedes access anyway).
    this.cache.flushDirty();
    const families = new Set<string>();
    for (const snapshot of snapshots) {
      for (const group of snapshot.keyGroups) {
        if (!this.keyGroupRange.contains(group.keyGroup)) continue;
        for (const state of group.states) {
          families.add(stateColumnFamily(state.name));
          if (state.kind === 'map') families.add(mapDirectoryColumnFamily(state.name));
        }
        for (const queue of group.timerQueues) families.add(timerColumnFamily(queue.name));
      }
    }
    if (families.size > 0) this.rocks.addColumnFamiliesSync([...families]);
    const restoredInto = new Set<RocksKvState<unknown>>();
    for (const snapshot of snapshots) {
      for (const group of snapshot.keyGroups) {
        if (this.keyGroupRange.contains(group.keyGroup)) this.restoreKeyGroup(group, restoredInto);
      }
    }
    this.cache.issueWrites();
    // Registered states restored into forget what they cached (restore is called before any access).
    for (const state of restoredInto) state.dropCached();
  }

  private restoreKeyGroup(group: KeyGroupSnapshot, restoredInto: Set<RocksKvState<unknown>>): void {
    const keyGroup = group.keyGroup;
    for (const stateSnapshot of group.states) {
      const state = this.states.get(stateSnapshot.name);
      if (state !== undefined) {
        checkRestoredStateKind(this.operatorUid, stateSnapshot.kind, state.descriptor, 'snapshotted');
        restoredInto.add(state);
        const form: RowForm = { isMap: state.descriptor.kind === 'map', hasTtl: state.hasTtl };
        const target = this.restoreTarget(stateSnapshot, form, {
          missingExpiryMs: () => saturatingAdd(this.ttlNow(state), state.descriptor.ttl?.ttlMs ?? 0),
          check: (value, at) => state.validateStored(value, at),
        });
        restoredRows(stateSnapshot.entries, keyGroup, target);
        continue;
      }
      let pending = this.pendingStates.get(stateSnapshot.name);
      if (pending === undefined) {
        const isMap = stateSnapshot.kind === 'map';
        const first = stateSnapshot.entries[0];
        const hasTtl = first !== undefined && hasRestoredExpiry(first, isMap);
        pending = { kind: stateSnapshot.kind, version: stateSnapshot.version, form: { isMap, hasTtl }, hasMissingExpiry: false };
        this.pendingStates.set(stateSnapshot.name, pending);
      } else if (pending.kind !== stateSnapshot.kind) {
        throw new EddyError(
          `operator '${this.operatorUid}': state '${stateSnapshot.name}' appears as both ${pending.kind} and ` +
            `${stateSnapshot.kind} state in the restored snapshots`,
          { operatorUid: this.operatorUid },
        );
      }
      const owner = pending;
      const target = this.restoreTarget(stateSnapshot, pending.form, {
        missingExpiryMs: () => {
          owner.hasMissingExpiry = true;
          return Number.NaN;
        },
        // Schemas are checked on registration; the shape of lists now (maps are checked row by row anyway).
        check: (value, at) => {
          if (stateSnapshot.kind === 'list' && (!Array.isArray(value) || value.length === 0)) {
            throw target.corrupt('a list value is not a non-empty array', at);
          }
        },
      });
      restoredRows(stateSnapshot.entries, keyGroup, target);
    }
    for (const queueSnapshot of group.timerQueues) this.restoreTimers(keyGroup, queueSnapshot);
  }

  private restoreTarget(
    stateSnapshot: StateSnapshot,
    form: RowForm,
    rest: Pick<RestoreTarget, 'missingExpiryMs' | 'check'>,
  ): RestoreTarget {
    const name = stateSnapshot.name;
    return {
      stateName: name,
      columnFamily: stateColumnFamily(name),
      form,
      rowKeys: this.context.rowKeys,
      write: (write) => this.cache.addWrite(write),
      corrupt: (what, keyGroup) =>
        new EddyError(
          `restoring state '${name}' of operator '${this.operatorUid}' (key group ${keyGroup}): ${what}; the snapshot is corrupt`,
          { operatorUid: this.operatorUid },
        ),
      ...rest,
    };
  }

  private restoreTimers(keyGroup: number, queueSnapshot: TimerQueueSnapshot): void {
    const queue = this.timerQueues.get(queueSnapshot.name);
    if (queue !== undefined) {
      for (const [timestamp, key, namespacePlain] of queueSnapshot.timers) {
        queue.addForKey(timestamp, key, keyIdOf(key), keyGroup, queue.namespaceCodec.fromPlain(namespacePlain));
      }
      return;
    }
    const columnFamily = timerColumnFamily(queueSnapshot.name);
    const rowKeys = this.context.rowKeys;
    for (const [timestamp, key, namespacePlain] of queueSnapshot.timers) {
      const rowKey = rowKeys.beginTimer(timestamp, keyGroup, key).namespace(namespacePlain).copy();
      this.cache.addWrite({ kind: 'put', columnFamily, key: rowKey, value: EMPTY });
    }
    // Rows are unique per (timestamp, key, namespace); snapshots hold each timer once.
    const count = this.pendingTimerCounts.get(queueSnapshot.name) ?? 0;
    this.pendingTimerCounts.set(queueSnapshot.name, count + queueSnapshot.timers.length);
  }

  // ---- lifecycle ----

  /**
   * Hands dirty entries to the store, drops the cache and closes the store (blocking: the I/O thread
   * flushes the memtables). Throws an EddyError when the last writes or the close failed; the backend
   * is disposed either way.
   */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    let failure: unknown;
    try {
      this.cache.flushDirty();
    } catch (error) {
      failure = error;
    }
    for (const state of this.states.values()) state.dispose();
    for (const queue of this.timerQueues.values()) queue.dispose();
    this.cache.clear();
    this.states.clear();
    this.timerQueues.clear();
    this.pendingStates.clear();
    this.pendingTimerCounts.clear();
    this.current.keyGroup = -1;
    try {
      this.rocks.closeSync();
    } catch (error) {
      failure ??= error;
    }
    if (failure !== undefined) {
      throw new EddyError(
        `RocksDB state of operator '${this.operatorUid}' subtask ${this.subtask}: closing failed: ${describeError(failure)}`,
        { operatorUid: this.operatorUid, subtask: this.subtask, cause: failure },
      );
    }
  }
}

const EMPTY = new Uint8Array(0);

