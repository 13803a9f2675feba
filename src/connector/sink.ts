/**
 * The sink SPI. A sink creates one writer per sink subtask. `write` is synchronous and buffers; I/O
 * happens asynchronously behind it, with backpressure through {@link SinkWriter.waitUntilWritable}.
 * `flush` makes everything written so far durable (at a checkpoint barrier and at end of input).
 * Two-phase commit (pre-commit on the barrier, commit on checkpoint completion) extends this contract
 * with the checkpointing issue.
 */
export interface SinkWriterContext {
  readonly subtask: number;
  readonly parallelism: number;
  readonly operatorUid: string;
  /**
   * The job's checkpointing. With `exactly-once` (and `at-least-once`), a two-phase-commit sink makes
   * output visible only on checkpoint completion; with `off` it writes directly.
   */
  readonly checkpointingMode: 'exactly-once' | 'at-least-once' | 'off';
  /** A number unique to this run attempt (restarts get a new one), for naming temporary files. */
  readonly attempt: number;
}

/** A sink: plain configuration, shared by the graph; each subtask gets its own writer. */
export interface Sink<T> {
  createWriter(context: SinkWriterContext): SinkWriter<T>;
  /** A short description for the plan and errors, e.g. `file(out.jsonl)`. */
  describe(): string;
  /**
   * Two-phase commit: the committer that makes pre-committed output visible. A sink without one (or
   * returning undefined for this run, e.g. when configured at-least-once) writes directly.
   */
  createCommitter?(context: SinkWriterContext): Committer | undefined;
}

/**
 * Makes committables (plain data from {@link SinkWriter.prepareCommit}) visible. Called when the
 * checkpoint that holds them completed, and again on restore for every committable recorded as pending
 * in the restored checkpoint — so `commit` must be idempotent (committing twice is a no-op).
 */
export interface Committer {
  commit(committables: readonly unknown[]): Promise<void>;
}

/** One sink subtask's writer, called only from its task's mailbox. */
export interface SinkWriter<T> {
  /** Opens files or connections. */
  open(restoredState: readonly unknown[]): Promise<void>;
  write(value: T, timestampMs: number): void;
  /**
   * Undefined when the writer accepts more input; otherwise a promise that resolves when it does.
   * Rejects when background I/O failed.
   */
  waitUntilWritable(): Promise<void> | undefined;
  /**
   * Makes everything written so far durable; `isEndOfInput` is true for the final flush. Rejects when writing
   * failed.
   */
  flush(isEndOfInput: boolean): Promise<void>;
  /** Operator state to keep in a checkpoint (plain data). */
  snapshotState(checkpointId: number): unknown[];
  /**
   * Two-phase commit, pre-commit (synchronous, at the checkpoint barrier): seal what was written since
   * the previous checkpoint — e.g. switch to a new in-progress file — and return its committables
   * (plain data). Records written after this call belong to the next checkpoint.
   */
  prepareCommit?(checkpointId: number): readonly unknown[];
  /** Resolves once the committables of `checkpointId` are durable (flushed and synced). */
  awaitPrepared?(checkpointId: number): Promise<void>;
  close(): Promise<void>;
}
