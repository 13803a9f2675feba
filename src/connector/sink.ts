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
}

export interface Sink<T> {
  createWriter(context: SinkWriterContext): SinkWriter<T>;
  /** A short description for the plan and errors, e.g. `file(out.jsonl)`. */
  describe(): string;
}

export interface SinkWriter<T> {
  /** Opens files or connections. */
  open(restoredState: readonly unknown[]): Promise<void>;
  write(value: T, timestampMs: number): void;
  /**
   * Undefined when the writer accepts more input; otherwise a promise that resolves when it does.
   * Rejects when background I/O failed.
   */
  waitUntilWritable(): Promise<void> | undefined;
  flush(isEndOfInput: boolean): Promise<void>;
  /** Operator state to keep in a checkpoint (plain data). */
  snapshotState(checkpointId: number): unknown[];
  close(): Promise<void>;
}
