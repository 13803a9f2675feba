/**
 * What a completed checkpoint holds, as written in its `_metadata` file. Self-describing: a later
 * build of Eddy (or the job) can tell whose checkpoint it is, which operators it has state for, and
 * how that state was partitioned, without running anything.
 */
export const CHECKPOINT_FORMAT = 'eddy-checkpoint/1';

/** One operator subtask's state file. */
export interface StateHandle {
  readonly subtask: number;
  /** Key groups this subtask owned, `[start, end)`; empty range for non-keyed operators. */
  readonly keyGroupRange: readonly [start: number, end: number];
  /** Path relative to the checkpoint folder. */
  readonly file: string;
  readonly bytes: number;
  /** Hex SHA-256 of the file's bytes. */
  readonly sha256: string;
  /** True when the subtask had finished (all input processed) at this checkpoint. */
  readonly isFinished: boolean;
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
export interface EnumeratorStateMetadata {
  readonly uid: string;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
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
  readonly totalBytes: number;
  readonly operators: readonly OperatorStateMetadata[];
  readonly enumerators: readonly EnumeratorStateMetadata[];
}
