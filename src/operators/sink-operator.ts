import type { Committer, Sink, SinkWriter, SinkWriterContext } from '../connector/sink.ts';
import { EddyError } from '../core/errors.ts';
import { OperatorBase } from './operator-base.ts';
import type { OperatorSnapshot } from './operator.ts';

const SINK_STATE = 'sink-writer';
/** Union operator state: on restore every subtask gets the pending committables of every old subtask. */
const PENDING_STATE = 'sink-pending-committables';

/** Committables pre-committed at checkpoint `checkpointId`, not yet committed. Plain data (operator state). */
export interface PendingCommit {
  readonly checkpointId: number;
  readonly committables: readonly unknown[];
}

/**
 * Runs a sink's writer in a subtask: records go to `write` synchronously; the writer's backpressure
 * reaches the task through `waitUntilReady`; the writer's state is operator list state (redistributed
 * round-robin on rescale).
 *
 * Without a committer (or with checkpointing off) output is written directly: `finishAsync` flushes at
 * end of input, and with checkpointing on the writer is flushed at each checkpoint (at-least-once).
 *
 * Two-phase commit — the sink has a committer and checkpointing is on:
 * - `snapshotState(n)` calls `writer.prepareCommit(n)` and records its committables as pending in
 *   operator state, together with those of earlier checkpoints not committed yet;
 *   `completeSnapshotAsync(n)` waits until they are durable (`writer.awaitPrepared(n)`).
 * - `notifyCheckpointComplete(n)` commits every pending checkpoint ≤ n, in checkpoint order, in the
 *   background (one commit at a time); an entry leaves the pending list only once its commit
 *   succeeded, so a snapshot taken meanwhile still holds it and a failure never loses it. A failed
 *   commit fails the task through `waitUntilReady`, `finishAsync`, `closeAsync` and
 *   `completeSnapshotAsync` (which declines later checkpoints).
 * - `notifyCheckpointAborted(n)` keeps n's committables pending: the next completed checkpoint commits
 *   them (Flink's behaviour).
 * - Restore: the pending list is union state, so every new subtask gets the pending committables of
 *   every old subtask, whatever the parallelisms; `openAsync` commits all of them (idempotent: several
 *   subtasks commit the same ones) before the writer opens. A writer may therefore treat whatever its
 *   restored checkpoint referenced as committed when it opens (the file sink removes leftovers then).
 * - End of input: `finishAsync` flushes the writer and waits for commits in flight, but commits
 *   nothing itself. **The runtime must then take a final checkpoint of the finished task** —
 *   `snapshotState(n)` ▶ `completeSnapshotAsync(n)` ▶ `notifyCheckpointComplete(n)` once every task
 *   acknowledged ▶ `closeAsync()` (or {@link SinkOperator.commitsSettled}), which waits for that
 *   commit and rejects if it failed — and report success only after that: the last output becomes
 *   visible with the final checkpoint, exactly once.
 */
export class SinkOperator<T> extends OperatorBase<never> {
  private writer!: SinkWriter<T>;
  private committer: Committer | undefined = undefined;
  private restoredWriterState: readonly unknown[] = [];
  /** Ascending by checkpoint id. Restored entries are committed (and removed) by `openAsync`. */
  private pending: PendingCommit[] = [];
  /** Commits in flight, one after the other; never rejects (failures land in `commitFailure`). */
  private commits: Promise<void> = Promise.resolve();
  private commitFailure: unknown = undefined;

  constructor(private readonly sink: Sink<T>) {
    super(1, false);
  }

  override open(): void {
    const context = this.writerContext();
    this.writer = this.sink.createWriter(context);
    // A restored checkpoint's pending committables must be committed even if checkpointing is now off.
    if (context.checkpointingMode !== 'off' || this.pending.length > 0) this.committer = this.sink.createCommitter?.(context);
    if (this.pending.length > 0 && this.committer === undefined) {
      throw new EddyError(
        `sink ${this.sink.describe()} cannot commit the pending output of the restored checkpoint: it has no committer`,
        { domain: 'user', operatorUid: this.context.uid, subtask: this.context.subtask },
      );
    }
  }

  /** Commits the restored checkpoint's pending committables, then opens the writer. */
  async openAsync(): Promise<void> {
    const committer = this.committer;
    while (committer !== undefined && this.pending.length > 0) {
      await committer.commit(this.pending[0]!.committables);
      this.pending.shift();
    }
    await this.writer.open(this.restoredWriterState);
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    this.writer.write(value as T, timestampMs);
    this.metrics.recordsOut++;
  }

  waitUntilReady(): Promise<void> | undefined {
    if (this.commitFailure !== undefined) return Promise.reject(this.commitFailure);
    return this.writer.waitUntilWritable();
  }

  async finishAsync(): Promise<void> {
    await this.writer.flush(true);
    await this.commitsSettled();
  }

  override snapshotState(checkpointId: number): OperatorSnapshot {
    if (!this.isTwoPhaseCommit()) {
      return { keyed: undefined, operatorState: { [SINK_STATE]: this.writer.snapshotState(checkpointId) } };
    }
    const committables = this.writer.prepareCommit?.(checkpointId) ?? [];
    if (committables.length > 0) this.pending.push({ checkpointId, committables });
    return {
      keyed: undefined,
      operatorState: { [SINK_STATE]: this.writer.snapshotState(checkpointId), [PENDING_STATE]: this.pending.slice() },
      unionStateNames: [PENDING_STATE],
    };
  }

  async completeSnapshotAsync(checkpointId: number): Promise<void> {
    if (this.commitFailure !== undefined) throw this.commitFailure;
    if (this.isTwoPhaseCommit()) await this.writer.awaitPrepared?.(checkpointId);
    else if (this.context.checkpointing.mode !== 'off') await this.writer.flush(false);
  }

  override notifyCheckpointComplete(checkpointId: number): void {
    const committer = this.committer;
    if (committer === undefined || !this.isTwoPhaseCommit()) return;
    this.commits = this.commits.then(() => this.commitUpTo(committer, checkpointId));
  }

  /** The committables of `checkpointId` stay pending: the next completed checkpoint commits them. */
  notifyCheckpointAborted(_checkpointId: number): void {}

  /** Resolves once every commit started so far finished; rejects with the first commit failure. */
  async commitsSettled(): Promise<void> {
    await this.commits;
    if (this.commitFailure !== undefined) throw this.commitFailure;
  }

  protected override restoreOperatorState(state: Readonly<Record<string, readonly unknown[]>>): void {
    this.restoredWriterState = state[SINK_STATE] ?? [];
    const restored = (state[PENDING_STATE] ?? []).map((entry) => this.toPendingCommit(entry));
    // Stable: entries of one checkpoint keep their (old-subtask) order.
    restored.sort((a, b) => a.checkpointId - b.checkpointId);
    this.pending = restored;
  }

  /** Waits for commits in flight, closes the writer, then reports a failed commit. */
  async closeAsync(): Promise<void> {
    await this.commits;
    await this.writer?.close();
    if (this.commitFailure !== undefined) throw this.commitFailure;
  }

  private async commitUpTo(committer: Committer, checkpointId: number): Promise<void> {
    if (this.commitFailure !== undefined) return;
    try {
      while (this.pending.length > 0 && this.pending[0]!.checkpointId <= checkpointId) {
        const entry = this.pending[0]!;
        await this.writer.awaitPrepared?.(entry.checkpointId);
        await committer.commit(entry.committables);
        this.pending.shift();
      }
    } catch (error) {
      this.commitFailure = error;
    }
  }

  private isTwoPhaseCommit(): boolean {
    return this.committer !== undefined && this.context.checkpointing.mode !== 'off';
  }

  private writerContext(): SinkWriterContext {
    return {
      subtask: this.context.subtask,
      parallelism: this.context.parallelism,
      operatorUid: this.context.uid,
      checkpointingMode: this.context.checkpointing.mode,
      attempt: this.context.checkpointing.attempt,
    };
  }

  private toPendingCommit(entry: unknown): PendingCommit {
    if (typeof entry === 'object' && entry !== null) {
      const { checkpointId, committables } = entry as { checkpointId?: unknown; committables?: unknown };
      if (typeof checkpointId === 'number' && Array.isArray(committables)) return { checkpointId, committables };
    }
    throw new EddyError(`sink ${this.sink.describe()}: malformed pending committable in checkpoint state: ${JSON.stringify(entry)}`, {
      domain: 'internal',
      operatorUid: this.context.uid,
      subtask: this.context.subtask,
    });
  }
}
