import { EddyError, describeError } from '../core/errors.ts';
import type { CheckpointConfig } from './checkpoint-config.ts';
import {
  bytesOfStateHandle,
  CHECKPOINT_FORMAT,
  writtenBytesOfStateHandle,
  type CheckpointMetadata,
  type EnumeratorStateMetadata,
  type OperatorStateMetadata,
  type StateHandle,
} from './checkpoint-metadata.ts';

/**
 * The checkpoint coordinator (on the job manager): triggers checkpoints periodically, collects the
 * tasks' acknowledgements, writes the metadata of a checkpoint once *every* task acknowledged it, and
 * only then tells the tasks that it is complete (sinks commit there).
 *
 * One pending checkpoint is a small state machine:
 * `in-progress` ▶ (every task acknowledged) `finalizing` ▶ (metadata written) `completed`;
 * `in-progress` | `finalizing` ▶ `aborted` (declined by a task, timed out, metadata write failed,
 * subsumed by a newer completed checkpoint, or the job stopped).
 *
 * Bounded jobs (FLIP-147 in spirit): a task that reached the end of its input stays alive and idle;
 * from then on checkpoints reach it directly (nothing flows any more, so no barrier would). When every
 * task has ended, one final checkpoint is triggered at once; its completion is the job's end, because
 * only then did the sinks commit their last output.
 *
 * Pure: time, timers and every effect (routing triggers, storage, notifications) are injected, so it
 * runs under a fake clock in tests. All methods are called from one thread (the job manager's).
 */

/** The coordinator's clock and timers (milliseconds). */
export interface CoordinatorTimers {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemCoordinatorTimers: CoordinatorTimers = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** An operator of the job as the metadata describes it. */
export interface CheckpointedOperator {
  readonly uid: string;
  readonly name: string;
  readonly kind: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
}

/** One operator subtask's acknowledged state. */
export interface AcknowledgedState {
  readonly uid: string;
  readonly handle: StateHandle;
}

/** What a completed checkpoint looked like, for progress reports. */
export interface CompletedCheckpointStats {
  readonly checkpointId: number;
  readonly durationMs: number;
  readonly totalBytes: number;
  /** What the checkpoint wrote: less than `totalBytes` when incremental. */
  readonly writtenBytes: number;
  /** True for the job's final checkpoint (every task had ended). */
  readonly isFinal: boolean;
}

/** The coordinator's effects. Promise-returning hooks may reject; the checkpoint is then aborted. */
export interface CheckpointCoordinatorHooks {
  /**
   * Starts checkpoint `checkpointId` in these tasks (keys `vertexId/subtask`): a running source
   * snapshots and emits barriers; an ended task snapshots directly. Other tasks get it by barrier.
   */
  triggerTasks(checkpointId: number, taskKeys: readonly string[]): void;
  /** Captures the split enumerators' state now (synchronously) and writes it. */
  snapshotEnumerators(checkpointId: number): Promise<readonly EnumeratorStateMetadata[]>;
  /** Writes the metadata atomically (storage.completeCheckpoint). */
  completeCheckpoint(metadata: CheckpointMetadata): Promise<void>;
  /** Removes what an aborted checkpoint wrote (best effort). */
  abortCheckpoint(checkpointId: number): Promise<void>;
  /** Tells every task that the checkpoint completed; `isFinal`: the job's last one, tasks may close. */
  notifyComplete(checkpointId: number, isFinal: boolean): void;
  notifyAborted(checkpointId: number, reason: string): void;
  onCompleted?(stats: CompletedCheckpointStats): void;
  /** Too many consecutive checkpoint failures, or an internal error: the job fails. */
  failJob(error: EddyError): void;
  log?(line: string): void;
}

export interface CheckpointCoordinatorOptions {
  readonly config: Pick<
    CheckpointConfig,
    'mode' | 'intervalMs' | 'minPauseMs' | 'timeoutMs' | 'maxConcurrent' | 'tolerableFailures'
  >;
  readonly jobName: string;
  readonly graphFingerprint: string;
  readonly operators: readonly CheckpointedOperator[];
  /** Every task of the job, as `vertexId/subtask`. */
  readonly taskKeys: readonly string[];
  /** The source tasks among them: they start a checkpoint by emitting barriers. */
  readonly sourceTaskKeys: readonly string[];
  /** Hands out the id of the next checkpoint (storage.nextCheckpointId()): ids never repeat. */
  readonly nextCheckpointId: () => number;
  readonly timers?: CoordinatorTimers;
  readonly hooks: CheckpointCoordinatorHooks;
}

/** The states of one pending checkpoint. */
export type PendingStatus = 'in-progress' | 'finalizing' | 'completed' | 'aborted';

/** One triggered checkpoint until it completes or is aborted. */
export class PendingCheckpoint {
  status: PendingStatus = 'in-progress';
  readonly acknowledged = new Map<string, { readonly states: readonly AcknowledgedState[]; readonly isFinished: boolean }>();
  /** Tasks the trigger was sent to directly (sources, ended tasks). */
  readonly triggeredDirectly = new Set<string>();
  timeoutHandle: unknown = undefined;
  lastAckAtMs: number;

  constructor(
    readonly checkpointId: number,
    readonly triggeredAtMs: number,
    readonly expectedTasks: number,
    readonly enumerators: Promise<readonly EnumeratorStateMetadata[]>,
  ) {
    this.lastAckAtMs = triggeredAtMs;
  }

  /** Records one task's acknowledgement; returns the next status (`finalizing` once all are in). */
  acknowledge(taskKey: string, states: readonly AcknowledgedState[], isFinished: boolean, nowMs: number): PendingStatus {
    if (this.status !== 'in-progress' || this.acknowledged.has(taskKey)) return this.status;
    this.acknowledged.set(taskKey, { states, isFinished });
    this.lastAckAtMs = nowMs;
    if (this.acknowledged.size === this.expectedTasks) this.status = 'finalizing';
    return this.status;
  }

  /** True when every task had ended when it snapshotted: nothing can change after this checkpoint. */
  get isFinal(): boolean {
    for (const ack of this.acknowledged.values()) if (!ack.isFinished) return false;
    return true;
  }
}

export class CheckpointCoordinator {
  private readonly timers: CoordinatorTimers;
  private readonly hooks: CheckpointCoordinatorHooks;
  private readonly pending = new Map<number, PendingCheckpoint>();
  private readonly endedTasks = new Set<string>();
  private readonly taskKeys: ReadonlySet<string>;
  private periodicHandle: unknown = undefined;
  private lastTriggerAtMs = Number.NEGATIVE_INFINITY;
  private lastEndAtMs = Number.NEGATIVE_INFINITY;
  private consecutiveFailures = 0;
  private readonly failureReasons: string[] = [];
  private isRunning = false;
  private hasFinalCheckpoint = false;
  private latestCompleted: CompletedCheckpointStats | undefined = undefined;
  /** Metadata writes in flight: a restart waits for them before it looks for the latest checkpoint. */
  private readonly finalizing = new Set<Promise<void>>();

  constructor(private readonly options: CheckpointCoordinatorOptions) {
    this.timers = options.timers ?? systemCoordinatorTimers;
    this.hooks = options.hooks;
    this.taskKeys = new Set(options.taskKeys);
    for (const key of options.sourceTaskKeys) {
      if (!this.taskKeys.has(key)) throw new EddyError(`source task ${key} is not a task of the job`);
    }
  }

  /** Starts periodic triggering: the first checkpoint one interval from now. */
  start(): void {
    this.isRunning = true;
    this.lastTriggerAtMs = this.timers.now();
    this.scheduleNext();
  }

  /**
   * Resolves once no metadata write is in flight. After {@link stop}, a checkpoint whose every task
   * acknowledged may still complete on disk; a restart must see it (or its absence) for certain.
   */
  async settled(): Promise<void> {
    while (this.finalizing.size > 0) await Promise.allSettled([...this.finalizing]);
  }

  /** Stops triggering and forgets pending checkpoints (the job is being cancelled or restarted). */
  stop(): void {
    this.isRunning = false;
    this.clearPeriodic();
    for (const checkpoint of this.pending.values()) {
      this.timers.clearTimeout(checkpoint.timeoutHandle);
      checkpoint.status = 'aborted';
    }
    this.pending.clear();
  }

  get latestCompletedCheckpoint(): CompletedCheckpointStats | undefined {
    return this.latestCompleted;
  }

  get pendingCheckpointIds(): number[] {
    return [...this.pending.keys()];
  }

  /** Triggers a checkpoint now (tests, the final checkpoint); undefined if none may start now. */
  triggerCheckpoint(): number | undefined {
    if (!this.isRunning || this.hasFinalCheckpoint) return undefined;
    if (this.pending.size >= this.options.config.maxConcurrent) return undefined;
    const checkpointId = this.options.nextCheckpointId();
    const nowMs = this.timers.now();
    this.lastTriggerAtMs = nowMs;
    const enumerators = this.snapshotEnumerators(checkpointId);
    const checkpoint = new PendingCheckpoint(checkpointId, nowMs, this.taskKeys.size, enumerators);
    this.pending.set(checkpointId, checkpoint);
    checkpoint.timeoutHandle = this.timers.setTimeout(
      () => this.abort(checkpoint, `timed out after ${this.options.config.timeoutMs} ms`, true),
      this.options.config.timeoutMs,
    );
    const direct: string[] = [];
    for (const key of this.options.sourceTaskKeys) if (!this.endedTasks.has(key)) direct.push(key);
    for (const key of this.endedTasks) direct.push(key);
    for (const key of direct) checkpoint.triggeredDirectly.add(key);
    enumerators.then(undefined, (error: unknown) =>
      this.abort(checkpoint, `writing the split enumerators' state failed: ${describeError(error)}`, true),
    );
    this.hooks.triggerTasks(checkpointId, direct);
    this.scheduleNext();
    return checkpointId;
  }

  /** A task acknowledged `checkpointId` with its operators' state handles. */
  acknowledge(checkpointId: number, taskKey: string, states: readonly AcknowledgedState[], isFinished: boolean): void {
    const checkpoint = this.pending.get(checkpointId);
    if (checkpoint === undefined) return; // late ack of an aborted or subsumed checkpoint
    if (!this.taskKeys.has(taskKey)) {
      this.hooks.failJob(new EddyError(`checkpoint ${checkpointId} acknowledged by unknown task ${taskKey}`));
      return;
    }
    if (checkpoint.acknowledge(taskKey, states, isFinished, this.timers.now()) === 'finalizing') {
      this.timers.clearTimeout(checkpoint.timeoutHandle);
      const finalizing = this.finalize(checkpoint).then(undefined, (error: unknown) =>
        this.hooks.failJob(new EddyError(`completing checkpoint ${checkpointId} failed: ${describeError(error)}`, { cause: error })),
      );
      this.finalizing.add(finalizing);
      void finalizing.finally(() => this.finalizing.delete(finalizing));
    }
  }

  /** A task could not take its part of `checkpointId` (alignment aborted, snapshot or write failed). */
  decline(checkpointId: number, taskKey: string, reason: string): void {
    const checkpoint = this.pending.get(checkpointId);
    if (checkpoint === undefined || checkpoint.status !== 'in-progress') return;
    this.abort(checkpoint, `declined by task ${taskKey}: ${reason}`, true);
  }

  /**
   * A task reached the end of its input and waits, idle, for the final checkpoint. Pending checkpoints
   * it has not acknowledged are triggered on it directly: no barrier will reach it any more.
   */
  taskEnded(taskKey: string): void {
    if (this.endedTasks.has(taskKey)) return;
    this.endedTasks.add(taskKey);
    for (const checkpoint of this.pending.values()) {
      if (checkpoint.status !== 'in-progress' || checkpoint.acknowledged.has(taskKey)) continue;
      if (checkpoint.triggeredDirectly.has(taskKey)) continue;
      checkpoint.triggeredDirectly.add(taskKey);
      this.hooks.triggerTasks(checkpoint.checkpointId, [taskKey]);
    }
    if (this.isAllEnded && this.pending.size === 0) this.triggerFinal();
  }

  private get isAllEnded(): boolean {
    return this.endedTasks.size === this.taskKeys.size;
  }

  private triggerFinal(): void {
    this.clearPeriodic();
    this.triggerCheckpoint();
  }

  private async snapshotEnumerators(checkpointId: number): Promise<readonly EnumeratorStateMetadata[]> {
    return this.hooks.snapshotEnumerators(checkpointId);
  }

  private async finalize(checkpoint: PendingCheckpoint): Promise<void> {
    let metadata: CheckpointMetadata;
    try {
      const enumerators = await checkpoint.enumerators;
      if (checkpoint.status !== 'finalizing') return;
      metadata = this.buildMetadata(checkpoint, enumerators);
      await this.hooks.completeCheckpoint(metadata);
    } catch (error) {
      this.abort(checkpoint, `writing the metadata failed: ${describeError(error)}`, true);
      return;
    }
    if (checkpoint.status !== 'finalizing') return;
    checkpoint.status = 'completed';
    this.pending.delete(checkpoint.checkpointId);
    this.lastEndAtMs = this.timers.now();
    this.consecutiveFailures = 0;
    this.failureReasons.length = 0;
    // Older pending checkpoints are subsumed: the newer one already holds everything they would.
    for (const older of [...this.pending.values()]) {
      if (older.checkpointId < checkpoint.checkpointId) this.abort(older, `subsumed by checkpoint ${checkpoint.checkpointId}`, false);
    }
    const isFinal = this.isAllEnded && checkpoint.isFinal;
    const stats: CompletedCheckpointStats = {
      checkpointId: checkpoint.checkpointId,
      durationMs: metadata.durationMs,
      totalBytes: metadata.totalBytes,
      writtenBytes: metadata.writtenBytes ?? metadata.totalBytes,
      isFinal,
    };
    this.latestCompleted = stats;
    if (isFinal) {
      this.hasFinalCheckpoint = true;
      this.clearPeriodic();
    }
    this.hooks.onCompleted?.(stats);
    this.hooks.notifyComplete(checkpoint.checkpointId, isFinal);
    if (!isFinal && this.isAllEnded && this.pending.size === 0) this.triggerFinal();
    else this.scheduleNext();
  }

  private buildMetadata(checkpoint: PendingCheckpoint, enumerators: readonly EnumeratorStateMetadata[]): CheckpointMetadata {
    const byUid = new Map<string, StateHandle[]>();
    for (const ack of checkpoint.acknowledged.values()) {
      for (const state of ack.states) {
        let handles = byUid.get(state.uid);
        if (handles === undefined) byUid.set(state.uid, (handles = []));
        handles.push(state.handle);
      }
    }
    let totalBytes = 0;
    let writtenBytes = 0;
    const operators: OperatorStateMetadata[] = this.options.operators.map((operator) => {
      const subtasks = (byUid.get(operator.uid) ?? []).sort((a, b) => a.subtask - b.subtask);
      if (subtasks.length !== operator.parallelism) {
        throw new EddyError(
          `checkpoint ${checkpoint.checkpointId} has state for ${subtasks.length} of ${operator.parallelism} subtasks of '${operator.uid}'`,
        );
      }
      for (const handle of subtasks) {
        totalBytes += bytesOfStateHandle(handle);
        writtenBytes += writtenBytesOfStateHandle(handle);
      }
      return { ...operator, subtasks };
    });
    for (const enumerator of enumerators) {
      totalBytes += enumerator.bytes;
      writtenBytes += enumerator.bytes;
    }
    const mode = this.options.config.mode;
    if (mode === 'off') throw new EddyError('a checkpoint was taken with checkpointing off');
    return {
      format: CHECKPOINT_FORMAT,
      checkpointId: checkpoint.checkpointId,
      jobName: this.options.jobName,
      graphFingerprint: this.options.graphFingerprint,
      mode,
      triggeredAtMs: checkpoint.triggeredAtMs,
      durationMs: checkpoint.lastAckAtMs - checkpoint.triggeredAtMs,
      totalBytes,
      writtenBytes,
      operators,
      enumerators: [...enumerators],
    };
  }

  /**
   * Aborts a pending checkpoint; `isFailure` counts it towards the tolerable consecutive failures
   * (a subsumed checkpoint is not a failure). Exceeding them fails the job with every reason.
   */
  private abort(checkpoint: PendingCheckpoint, reason: string, isFailure: boolean): void {
    if (checkpoint.status === 'completed' || checkpoint.status === 'aborted') return;
    checkpoint.status = 'aborted';
    this.timers.clearTimeout(checkpoint.timeoutHandle);
    this.pending.delete(checkpoint.checkpointId);
    if (!this.isRunning) return;
    this.lastEndAtMs = this.timers.now();
    this.hooks.log?.(`checkpoint ${checkpoint.checkpointId} aborted: ${reason}`);
    this.hooks.notifyAborted(checkpoint.checkpointId, reason);
    this.hooks.abortCheckpoint(checkpoint.checkpointId).then(undefined, (error: unknown) =>
      this.hooks.log?.(`cleaning up checkpoint ${checkpoint.checkpointId} failed: ${describeError(error)}`),
    );
    if (isFailure) {
      this.consecutiveFailures++;
      this.failureReasons.push(`checkpoint ${checkpoint.checkpointId} ${reason}`);
      if (this.consecutiveFailures > this.options.config.tolerableFailures) {
        this.stop();
        this.hooks.failJob(
          new EddyError(
            `checkpointing failed ${this.consecutiveFailures} time(s) in a row (tolerable: ${this.options.config.tolerableFailures}): ` +
              this.failureReasons.join('; '),
            { domain: 'external', isRetriable: true },
          ),
        );
        return;
      }
    }
    if (this.isAllEnded && this.pending.size === 0) this.triggerFinal();
    else this.scheduleNext();
  }

  /** Next periodic trigger: one interval after the last trigger, and min pause after the last end. */
  private scheduleNext(): void {
    this.clearPeriodic();
    if (!this.isRunning || this.hasFinalCheckpoint || this.isAllEnded) return;
    if (this.pending.size >= this.options.config.maxConcurrent) return; // rescheduled when one ends
    const { intervalMs, minPauseMs } = this.options.config;
    const atMs = Math.max(this.lastTriggerAtMs + intervalMs, this.lastEndAtMs + minPauseMs);
    this.periodicHandle = this.timers.setTimeout(
      () => {
        this.periodicHandle = undefined;
        this.triggerCheckpoint();
      },
      Math.max(0, atMs - this.timers.now()),
    );
  }

  private clearPeriodic(): void {
    if (this.periodicHandle !== undefined) this.timers.clearTimeout(this.periodicHandle);
    this.periodicHandle = undefined;
  }
}
