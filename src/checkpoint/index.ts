/**
 * Checkpoints: consistent, durable snapshots of a running job, from which it restarts after a failure
 * (or resumes after a kill, also at another parallelism) as if it had never stopped.
 *
 * A checkpoint n is a cut through the data flow marked by barrier n: sources record their positions
 * and emit the barrier; each task snapshots its operators when the barrier has passed all its inputs
 * (aligned in exactly-once mode), writes the snapshot files and acknowledges; when every task has
 * acknowledged, the coordinator writes the checkpoint's metadata and only then tells the tasks that n
 * completed (sinks commit their pending output then).
 *
 * This folder holds the configuration (`checkpoint-config.ts`), the self-describing metadata format
 * (`checkpoint-metadata.ts`), the storage of checkpoints in a directory (`checkpoint-storage.ts`,
 * through the fault-injectable boundary `checkpoint-file-system.ts`) and the redistribution of state
 * to new subtasks on restore (`restore-assignment.ts`). Barrier alignment lives in the runtime's
 * input gate; the coordinator in the runtime.
 *
 * Invariants:
 * - A checkpoint is completed iff its `_metadata` file exists. `_metadata` is written last and
 *   atomically (temp file, fsync, rename, fsync of the folder), after every state file it names was
 *   fsynced; a partial checkpoint (crash or abort before that) is never restored and is cleaned up.
 * - Every state file carries a SHA-256 in the metadata; restore verifies it. A corrupt or partial
 *   newest checkpoint is skipped for the previous intact one, with a log line saying which and why.
 * - Checkpoint ids never repeat within a directory, across restarts too.
 * - Retention keeps the newest K completed checkpoints and never deletes the newest one; a checkpoint
 *   reported complete is never deleted by a later abort.
 * - A checkpoint directory belongs to one job (its `_eddy-job.json` names it); another job's directory,
 *   or a non-empty folder that is not a checkpoint directory, is refused.
 * - A failing write (disk full, not writable) fails only that checkpoint: the previous completed one
 *   stays valid, so nothing is lost.
 * - On restore, every key group goes to exactly one new subtask (the one that owns it), every
 *   operator-state element to exactly one new subtask, and union state to all of them; maxParallelism
 *   cannot change.
 */
export {
  checkCheckpointConfig,
  DEFAULT_CHECKPOINT_CONFIG,
  type CheckpointConfig,
  type CheckpointingMode,
} from './checkpoint-config.ts';
export {
  bytesOfStateHandle,
  CHECKPOINT_FORMAT,
  filesOfStateHandle,
  SHARED_FOLDER,
  sharedFilesOfStateHandle,
  writtenBytesOfStateHandle,
  type CheckpointMetadata,
  type EnumeratorStateMetadata,
  type FileHandle,
  type CanonicalKeyedStateHandle,
  type KeyedStateHandle,
  type NamedFileHandle,
  type RocksDBStateHandle,
  type OperatorStateMetadata,
  type StateHandle,
} from './checkpoint-metadata.ts';
export { errorCodeOf, nodeCheckpointFileSystem, type CheckpointFileSystem } from './checkpoint-file-system.ts';
export {
  CHECKPOINT_DIR_FORMAT,
  CheckpointStorage,
  checkpointFolderName,
  loadCheckpoint,
  pathSegmentOf,
  type CheckpointStorageOptions,
  type OperatorSnapshot,
  type KeyedStatePart,
  type OperatorStatePart,
  type RestoredCheckpoint,
} from './checkpoint-storage.ts';
export {
  checkRestoreCompatibility,
  oldSubtasksFor,
  redistributeSnapshots,
  type OldSubtasks,
  type RestoreTarget,
} from './restore-assignment.ts';
