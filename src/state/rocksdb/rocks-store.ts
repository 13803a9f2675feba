/**
 * The RocksDB store: one RocksDB database (one operator subtask's keyed state), driven from the task's
 * thread. `rocksdb-native` is asynchronous only and a database belongs to the thread that opened it, so
 * every database lives in a *state I/O thread* (one per thread that hosts RocksDB backends, started on
 * first use) and the task's thread talks to it through this interface:
 *
 * - asynchronous requests (`multiGet`, `write`, `checkpoint`, …) for the hot path: the task prefetches
 *   what a batch of records will read with one `multiGet`, and writes dirty cache entries in batches;
 * - blocking requests (`getSync`, `scanSync`, …) for what no prefetch foresaw: the task's thread waits
 *   (`Atomics.wait`) until the I/O thread answers. Slow (a few hundred µs) but correct, so processing
 *   stays synchronous and state access never depends on a prefetch being complete.
 *
 * Requests of one store run in the I/O thread in the order they were made, asynchronous and blocking
 * alike: a `getSync` made after a `write` sees that write; a `checkpoint` made after a `write` contains
 * it. Keys and values are raw bytes; their layout is the backend's business (see `key-layout.ts`).
 * RocksDB compares keys bytewise (`Buffer.compare`), so prefixes and ranges work as expected.
 *
 * Errors name the database path and what to do: a missing or unwritable folder, a folder locked by
 * another process (RocksDB's LOCK file), a corrupt database, a full disk (every later write fails too:
 * the store is then dead and must be discarded; `close` still settles, within a bound).
 */

/** How to open a store. */
export interface RocksStoreOptions {
  /** The database folder. Created (with parents) unless `mustExist`. */
  readonly path: string;
  /**
   * Column families to open, besides RocksDB's `default` (which the store also opens and flushes but
   * the backend does not use). Families already in the database but not listed are opened too (a
   * database cannot be opened without all of its families): {@link RocksStore.columnFamilies} lists all.
   */
  readonly columnFamilies: readonly string[];
  /** Fail instead of creating the database when `path` holds none (restoring). Default false. */
  readonly mustExist?: boolean;
  /** Memtable size per column family, bytes; at most 2 memtables per family. Default 4 MiB. */
  readonly writeBufferBytes?: number;
}

/** One write: a put, a delete, or a deletion of the keys in `[key, end)`. */
export type RocksWrite =
  | { readonly kind: 'put'; readonly columnFamily: string; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly columnFamily: string; readonly key: Uint8Array }
  | { readonly kind: 'delete-range'; readonly columnFamily: string; readonly key: Uint8Array; readonly end: Uint8Array };

/** Keys in `[gte, lt)` of one column family, in key order. */
export interface RocksRange {
  readonly columnFamily: string;
  readonly gte: Uint8Array;
  readonly lt: Uint8Array;
  /** At most this many entries (the first ones in key order). Default: all. */
  readonly limit?: number;
}

/** Entries of a scan, in key order. */
export interface RocksEntries {
  readonly keys: readonly Uint8Array[];
  readonly values: readonly Uint8Array[];
}

/** One file of a native checkpoint, as linked or copied into the target folder. */
export interface RocksCheckpointFile {
  /** File name inside the target folder (`000012.sst`, `CURRENT`, `MANIFEST-000005`, `OPTIONS-000007`). */
  readonly name: string;
  readonly bytes: number;
  /** SST files are immutable: a later checkpoint naming the same SST may reuse the earlier copy. */
  readonly isImmutable: boolean;
}

/** What {@link RocksStore.checkpoint} wrote. */
export interface RocksCheckpoint {
  readonly files: readonly RocksCheckpointFile[];
  /** Column families of the database at checkpoint time (the restore must open exactly these). */
  readonly columnFamilies: readonly string[];
}

export interface RocksStore {
  readonly path: string;
  /** Every column family open in the database (excluding `default`), in open order. */
  readonly columnFamilies: readonly string[];

  /**
   * Opens further column families (closing and reopening the database if needed; queued after every
   * earlier request). Blocking: state can be registered while a record is being processed.
   */
  addColumnFamiliesSync(names: readonly string[]): void;

  /** Values of `keys` (null where absent), in the order of `keys`. One native multi-get. */
  multiGet(columnFamily: string, keys: readonly Uint8Array[]): Promise<Array<Uint8Array | null>>;
  /** Blocking {@link multiGet}. */
  multiGetSync(columnFamily: string, keys: readonly Uint8Array[]): Array<Uint8Array | null>;

  /** Entries in a key range (blocking); for iteration the cache cannot serve. */
  scanSync(range: RocksRange): RocksEntries;
  /** Asynchronous scan, for snapshots and restores. */
  scan(range: RocksRange): Promise<RocksEntries>;

  /**
   * Applies writes in order (one native write batch per column family; not atomic across families).
   * Resolves when RocksDB accepted them (WAL written, not fsynced: durability comes from checkpoints).
   */
  write(writes: readonly RocksWrite[]): Promise<void>;
  /** Blocking {@link write} (restores, which run before any record). */
  writeSync(writes: readonly RocksWrite[]): void;

  /**
   * A native checkpoint into `targetDir` (created; must not exist): flushes every column family's
   * memtable, pauses background work, hard-links the live SST files (copying when linking fails, e.g.
   * across file systems), copies CURRENT, the MANIFEST and OPTIONS, resumes. Contains every write made
   * before this call and nothing after. A database restored from these files (see
   * {@link RocksStoreOptions.mustExist}) holds exactly that state.
   */
  checkpoint(targetDir: string): Promise<RocksCheckpoint>;

  /** Flushes the memtables and closes the database; settles within a bound even after a disk failure. */
  close(): Promise<void>;
  /** Blocking {@link close} (a backend's `dispose`, which is synchronous). */
  closeSync(): void;
}

/**
 * Opens a store, blocking (backends are created synchronously while operators are set up; the first
 * open in a thread also starts that thread's state I/O thread). Throws an EddyError naming the path and
 * the problem.
 */
export type OpenRocksStoreSync = (options: RocksStoreOptions) => RocksStore;
