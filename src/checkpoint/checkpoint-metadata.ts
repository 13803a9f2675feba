/**
 * What a completed checkpoint holds, as written in its `_metadata` file. Self-describing: a later
 * build of Eddy (or the job) can tell whose checkpoint it is, which operators it has state for, and
 * how that state was partitioned, without running anything.
 */
export const CHECKPOINT_FORMAT = 'eddy-checkpoint/2';

/** One file of a checkpoint, with what verifies it. */
export interface FileHandle {
  /** Path relative to the checkpoint folder. */
  readonly file: string;
  readonly bytes: number;
  /** Hex SHA-256 of the file's bytes. */
  readonly sha256: string;
}

/**
 * A subtask's keyed state: the canonical per-key-group snapshot (`eddy-keyed-state/1`, msgpack) in one
 * file. Restoring reads it only in the new subtasks whose key groups overlap `keyGroupRange`.
 */
export interface CanonicalKeyedStateHandle extends FileHandle {
  readonly kind: 'canonical';
}

/** A file of a RocksDB database checkpoint; `name` is its name inside the database folder. */
export interface NamedFileHandle extends FileHandle {
  readonly name: string;
}

/**
 * A subtask's keyed state as a RocksDB database checkpoint (incremental): its immutable SST files are
 * stored once, under the checkpoint directory's `shared/` folder, and referenced by every checkpoint
 * that contains them (their `file` is relative to the checkpoint *directory*); the small mutable files
 * (CURRENT, MANIFEST, OPTIONS) are copied into each checkpoint's own folder.
 */
export interface RocksDBStateHandle {
  readonly kind: 'rocksdb';
  /** The database's column families (a restore opens exactly these). */
  readonly columnFamilies: readonly string[];
  /** Name, kind, row form and schema version of every state in the database (absent in older checkpoints). */
  readonly states?: ReadonlyArray<{
    readonly name: string;
    readonly kind: 'value' | 'list' | 'map' | 'reducing' | 'aggregating';
    /** Whether its rows carry a TTL expiry (absent in older checkpoints). */
    readonly hasTtl?: boolean;
    readonly version?: number;
  }>;
  readonly sharedFiles: readonly NamedFileHandle[];
  readonly privateFiles: readonly NamedFileHandle[];
}

export type KeyedStateHandle = CanonicalKeyedStateHandle | RocksDBStateHandle;

/** Prefix of shared files' paths (relative to the checkpoint directory). */
export const SHARED_FOLDER = 'shared';

/**
 * One operator subtask's state. Keyed state and operator (list/union) state are separate files
 * because they are redistributed differently: keyed state by key-group ranges (a new subtask reads only
 * the old subtasks whose ranges overlap its own), operator state from every old subtask (round-robin
 * needs the whole list).
 */
export interface StateHandle {
  readonly subtask: number;
  /** Key groups this subtask owned, `[start, end)`; empty range for non-keyed operators. */
  readonly keyGroupRange: readonly [start: number, end: number];
  /** True when the subtask had finished (all input processed) at this checkpoint. */
  readonly isFinished: boolean;
  /** Operator list and union state; absent when the subtask had none. */
  readonly operatorState?: FileHandle;
  /** Keyed state; absent for operators without keyed state. */
  readonly keyed?: KeyedStateHandle;
  /**
   * Bytes this checkpoint wrote for the handle; smaller than the handle's total when it reuses shared
   * files of earlier checkpoints (incremental RocksDB checkpoints). Absent: all of them.
   */
  readonly writtenBytes?: number;
}

/** The files a state handle names inside its checkpoint's folder (not the shared ones). */
export function filesOfStateHandle(handle: StateHandle): FileHandle[] {
  const files: FileHandle[] = [];
  if (handle.operatorState !== undefined) files.push(handle.operatorState);
  const keyed = handle.keyed;
  if (keyed?.kind === 'canonical') files.push(keyed);
  else if (keyed?.kind === 'rocksdb') files.push(...keyed.privateFiles);
  return files;
}

/** The shared files a state handle references (paths relative to the checkpoint directory). */
export function sharedFilesOfStateHandle(handle: StateHandle): FileHandle[] {
  return handle.keyed?.kind === 'rocksdb' ? [...handle.keyed.sharedFiles] : [];
}

/** Total bytes of the state a handle names, shared files included (the full size of the state). */
export function bytesOfStateHandle(handle: StateHandle): number {
  return [...filesOfStateHandle(handle), ...sharedFilesOfStateHandle(handle)].reduce((sum, file) => sum + file.bytes, 0);
}

/** Bytes a checkpoint wrote for a handle (see {@link StateHandle.writtenBytes}). */
export function writtenBytesOfStateHandle(handle: StateHandle): number {
  return handle.writtenBytes ?? bytesOfStateHandle(handle);
}

export interface OperatorStateMetadata {
  readonly uid: string;
  readonly name: string;
  readonly kind: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly subtasks: readonly StateHandle[];
}

/** A source's split enumerator state (unassigned splits), stored next to the operator states. */
export interface EnumeratorStateMetadata extends FileHandle {
  readonly uid: string;
}

export interface CheckpointMetadata {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly checkpointId: number;
  readonly jobName: string;
  /** The job graph's fingerprint when the checkpoint was taken (informational: restore maps by uid). */
  readonly graphFingerprint: string;
  readonly mode: 'exactly-once' | 'at-least-once';
  /** Epoch ms when the checkpoint was triggered. */
  readonly triggeredAtMs: number;
  /** Time from trigger to the last acknowledgement. */
  readonly durationMs: number;
  /** The full size of the checkpoint's state, shared files of earlier checkpoints included. */
  readonly totalBytes: number;
  /** What this checkpoint wrote (less than `totalBytes` when incremental). Absent in older metadata: `totalBytes`. */
  readonly writtenBytes?: number;
  readonly operators: readonly OperatorStateMetadata[];
  readonly enumerators: readonly EnumeratorStateMetadata[];
}
