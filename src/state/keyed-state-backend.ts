import type { KeyGroupRange } from '../core/key-group.ts';
import type { Clock } from '../core/time.ts';
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  ValueStateDescriptor,
} from './descriptors.ts';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from './state.ts';

/**
 * The keyed state backend contract. One backend instance serves one operator subtask: it owns the
 * key groups of `keyGroupRange`, scopes every state access to the current key (set per record or per
 * timer by the operator) and to a namespace (a window, or {@link VOID_NAMESPACE}), holds the operator's
 * timer queues, and snapshots/restores everything per key group — which is what lets a job restore
 * at another parallelism. The memory backend is the reference; the RocksDB backend implements the same
 * contract and passes the same conformance suite.
 */

/** Identifies namespaces in maps and (de)serializes them as plain data for snapshots. */
export interface NamespaceCodec<N> {
  /** A primitive that identifies `namespace`; equal namespaces give equal ids. */
  idOf(namespace: N): string | number;
  /** Plain data (msgpack-safe) for snapshots. */
  toPlain(namespace: N): unknown;
  fromPlain(plain: unknown): N;
}

/** The namespace of state that is not scoped to a window. */
export const VOID_NAMESPACE = 0 as const;
/** The type of {@link VOID_NAMESPACE}. */
export type VoidNamespace = typeof VOID_NAMESPACE;

/** Codec for state without a namespace: every entry maps to the single id 0. */
export const voidNamespaceCodec: NamespaceCodec<VoidNamespace> = {
  idOf: () => 0,
  toPlain: () => 0,
  fromPlain: () => VOID_NAMESPACE,
};

/**
 * Namespace-aware access used by operators (windows): set the namespace, read or write the stored
 * representation (list: T[], reducing: T, aggregating: accumulator, value: T, map: Map), and merge
 * namespaces when windows merge.
 */
export interface InternalKvState<N> {
  readonly descriptor: StateDescriptor;
  setCurrentNamespace(namespace: N): void;
  /** The stored representation for the current key and namespace, or undefined. Not a copy. */
  getInternal(): unknown;
  /** Replaces the stored representation for the current key and namespace. */
  updateInternal(value: unknown): void;
  /**
   * Merges the entries of `sources` into `target` for the current key and clears the sources.
   * Supported for list, reducing and aggregating state (aggregating requires `merge`).
   */
  mergeNamespaces(target: N, sources: readonly N[]): void;
  clear(): void;
}

/** One registered timer. Timers are deduplicated on (key, namespace, timestamp). */
export interface Timer<N> {
  readonly timestamp: number;
  readonly key: unknown;
  readonly namespace: N;
  readonly keyGroup: number;
}

/**
 * A priority queue of timers, ordered by timestamp, then key group, then an order the backend defines
 * that is the same every time the same timers are added (the memory backend: insertion order; RocksDB:
 * key and namespace bytes) — so firing order is deterministic. Deduplicated on (key, namespace,
 * timestamp), snapshotted per key group.
 * add/remove/poll: amortized O(log n).
 */
export interface TimerQueue<N> {
  /**
   * Adds a timer for the backend's current key. False only if it was already there; true if it is new —
   * or, for a timer the backend writes without reading (RocksDB, beyond its in-memory heap), if that is
   * not known. Adding an existing timer never duplicates it.
   */
  add(timestamp: number, namespace: N): boolean;
  /** Removes the timer of the current key; false if there was none. */
  remove(timestamp: number, namespace: N): boolean;
  peek(): Timer<N> | undefined;
  poll(): Timer<N> | undefined;
  readonly size: number;
}

/**
 * Per-key-group snapshot entry of one state: [key, namespace (plain), stored value, expiry ms].
 * `expiresAtMs` is present only for states with TTL. Stored values: value ▶ T, list ▶ T[], reducing
 * ▶ T, aggregating ▶ accumulator, map ▶ an array of `[userKey, value]` pairs in an order the backend
 * defines — or, for map state with TTL (expiry per user key), `[userKey, value, expiresAtMs]` triples.
 */
export type StateEntrySnapshot = readonly [key: unknown, namespace: unknown, value: unknown, expiresAtMs?: number];
/** One timer in a snapshot: [timestamp, key, namespace (plain)]. */
export type TimerSnapshot = readonly [timestamp: number, key: unknown, namespace: unknown];

/**
 * One state's entries within one key group. `version` is the descriptor's schema version at snapshot time,
 * checked on restore.
 */
export interface StateSnapshot {
  readonly name: string;
  readonly kind: StateDescriptor['kind'];
  readonly version: number;
  readonly entries: readonly StateEntrySnapshot[];
}

/** One timer queue's timers within one key group. */
export interface TimerQueueSnapshot {
  readonly name: string;
  readonly timers: readonly TimerSnapshot[];
}

/** Everything stored for one key group: the unit that moves between subtasks on rescale. */
export interface KeyGroupSnapshot {
  readonly keyGroup: number;
  readonly states: readonly StateSnapshot[];
  readonly timerQueues: readonly TimerQueueSnapshot[];
}

/**
 * The canonical, backend-independent snapshot of keyed state: plain data, grouped by key group, empty
 * key groups omitted. Encoding it (msgpack) and writing it are the checkpoint layer's job.
 */
export interface KeyedStateSnapshot {
  readonly format: 'eddy-keyed-state/1';
  readonly maxParallelism: number;
  readonly keyGroups: readonly KeyGroupSnapshot[];
}

/** One file of a {@link NativeKeyedStateSnapshot}. */
export interface NativeSnapshotFile {
  /** The file's name inside the database folder. */
  readonly name: string;
  readonly bytes: number;
  /** Immutable files (RocksDB's SSTs) with the same name in the same database are the same file. */
  readonly isImmutable: boolean;
  /**
   * For an immutable file the database got from a restored checkpoint: where it came from (absolute
   * path) and its checksum, so that the checkpoint layer can reference it instead of storing it again.
   */
  readonly restoredFrom?: { readonly path: string; readonly sha256: string };
}

/**
 * A backend-native snapshot of keyed state (RocksDB: a database checkpoint): files in a local folder
 * that hold the state as of the synchronous capture. The checkpoint layer stores them — uploading each
 * immutable file once across checkpoints (incremental checkpoints) — and removes the folder.
 */
export interface NativeKeyedStateSnapshot {
  readonly format: 'eddy-rocksdb/1';
  readonly maxParallelism: number;
  readonly keyGroupRange: readonly [start: number, end: number];
  /** Identifies the live database (its folder): equal names of immutable files there mean equal files. */
  readonly databaseId: string;
  /** The local folder holding the files. */
  readonly dir: string;
  readonly files: readonly NativeSnapshotFile[];
  /** The database's column families (a restore opens exactly these). */
  readonly columnFamilies: readonly string[];
  /** The kind of every state in the database: a restore refuses a state registered as another kind. */
  readonly states: readonly NativeStateKind[];
}

/**
 * A state as recorded with native keyed state: its name and kind, and the form of its rows — whether
 * they carry a TTL expiry (`hasTtl`) — and its schema version. `hasTtl` and `version` are absent in
 * checkpoints written before they were recorded.
 */
export interface NativeStateKind {
  readonly name: string;
  readonly kind: 'value' | 'list' | 'map' | 'reducing' | 'aggregating';
  readonly hasTtl?: boolean;
  readonly version?: number;
}

/**
 * Native keyed state to restore from: one old subtask's database checkpoint, its files verified and
 * in place in checkpoint storage (the backend copies them; it never modifies them).
 */
export interface NativeKeyedStateRestore {
  readonly format: 'eddy-rocksdb/1';
  readonly maxParallelism: number;
  readonly keyGroupRange: readonly [start: number, end: number];
  readonly columnFamilies: readonly string[];
  /** Absent in checkpoints older than the record of kinds: then nothing is checked. */
  readonly states: readonly NativeStateKind[] | undefined;
  /** `name`: the file's name inside the database folder; `path`: where it is now (absolute). */
  readonly files: ReadonlyArray<{ readonly name: string; readonly path: string; readonly bytes: number; readonly sha256: string }>;
}

/** What a backend needs to be created: the subtask it serves and the key groups it owns. */
export interface KeyedStateBackendOptions {
  readonly operatorUid: string;
  readonly subtask: number;
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  /** Processing-time clock for TTL. */
  readonly clock: Clock;
  /** Current event time (watermark) for event-time TTL. */
  readonly currentWatermark: () => number;
}

/**
 * One operator subtask's keyed state and timers; see the contract at the top of this file. Not thread-safe:
 * used only from its task's mailbox thread.
 */
export interface KeyedStateBackend {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;

  /** Scopes state access to `key`. Computes its key group (must be within `keyGroupRange`). */
  setCurrentKey(key: unknown): void;
  /** Like setCurrentKey when the key group is already known (from the channel or a timer). */
  setCurrentKeyWithGroup(key: unknown, keyGroup: number): void;
  getCurrentKey(): unknown;
  getCurrentKeyGroup(): number;

  getValueState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;

  /**
   * The namespaced form of a state, for operators that keep state per window. The returned object
   * implements both the user-facing interface of the descriptor's kind and {@link InternalKvState}.
   * Calling it twice with the same descriptor name returns the same object.
   */
  getPartitionedState<N>(descriptor: StateDescriptor, namespaceCodec: NamespaceCodec<N>): InternalKvState<N>;

  /** The timer queue named `name` (one per operator timer service and time domain). */
  getTimerQueue<N>(name: string, namespaceCodec: NamespaceCodec<N>): TimerQueue<N>;

  /** All keys with an entry in state `stateName` under `namespace`, for `applyToAllKeys`-style work. */
  getKeys(stateName: string, namespaceId: string | number): unknown[];

  /** Synchronous, consistent capture of all state and timers, per key group. */
  snapshot(): KeyedStateSnapshot;
  /**
   * Loads snapshots (possibly from several old subtasks, possibly covering key groups this backend
   * does not own: those are skipped). Called before any access.
   */
  restore(snapshots: readonly KeyedStateSnapshot[]): void;

  /**
   * Optional read-ahead (RocksDB): operators assemble what a batch of records will touch — begin ▶
   * `prefetchKey` per record (and `prefetchTimer` for timers they will set) ▶ end — and process the
   * batch once the promise settles (undefined: nothing to read). Access stays correct without it.
   */
  beginPrefetch?(): void;
  /**
   * The rows of `key`: states used outside windows, and per-window states for each of `namespaces`;
   * only the states named in `states` when given (an operator that writes a state blindly needs no read).
   */
  prefetchKey?(key: unknown, keyGroup: number, namespaces?: readonly unknown[], states?: readonly string[]): void;
  /** The row of a timer of queue `queueName` that will be added or removed. */
  prefetchTimer?(queueName: string, key: unknown, keyGroup: number, timestamp: number, namespace: unknown): void;
  endPrefetch?(): Promise<void> | undefined;

  /**
   * Optional native checkpoint, used by checkpoints instead of {@link snapshot} when present: captures
   * the state synchronously (as of this call; later writes are not in it) and resolves with the files
   * that hold it.
   */
  snapshotNative?(checkpointId: number): Promise<NativeKeyedStateSnapshot>;
  /**
   * Optional: loads native snapshots of old subtasks (their key groups may extend beyond this backend's
   * range: those are dropped). Called before any access, at most once, possibly together with
   * {@link restore}.
   */
  restoreNative?(snapshots: readonly NativeKeyedStateRestore[]): void;
  dispose(): void;
}
