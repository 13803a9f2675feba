import type { AcknowledgedState } from '../checkpoint/checkpoint-coordinator.ts';
import type { StateHandle } from '../checkpoint/checkpoint-metadata.ts';
import { EddyError, describeError } from '../core/errors.ts';
import type { KeyGroupRange } from '../core/key-group.ts';
import type { Clock } from '../core/time.ts';
import type { SourceSplit } from '../connector/source.ts';
import type { OperatorMetricsSnapshot } from '../operators/operator-metrics.ts';
import type { OperatorMetrics } from '../operators/operator-metrics.ts';
import type { OperatorSnapshot, StreamOperator } from '../operators/operator.ts';
import type { InputGate } from './input-gate.ts';
import { attributeError } from './operator-chain.ts';
import type { OutputChannel } from './output-channel.ts';
import { ProcessingTimeService } from './processing-time-service.ts';
import type { RecordWriter } from './record-writer.ts';
import type { SourceOperator } from './source-operator.ts';
import { END_OF_INPUT } from './stream-element.ts';

/** One operator of a task's chain, head first. */
export interface ChainMember {
  readonly nodeId: number;
  readonly uid: string;
  readonly operator: StreamOperator<unknown>;
  readonly metrics: OperatorMetrics;
  /** The input of this operator that its chained predecessor feeds (unused for the head). */
  readonly input: number;
  /** Key groups of this operator subtask (what its state file covers). */
  readonly keyGroupRange: KeyGroupRange;
}

/**
 * A task's part in checkpoints (set when the job checkpoints). State is written off the mailbox;
 * acknowledgements, declines and the end of input go to the checkpoint coordinator.
 */
export interface TaskCheckpointing {
  /** Writes one operator subtask's snapshot (storage.writeOperatorState). */
  writeState(
    checkpointId: number,
    uid: string,
    subtask: number,
    keyGroupRange: readonly [number, number],
    isFinished: boolean,
    snapshot: OperatorSnapshot,
  ): Promise<StateHandle>;
  acknowledge(task: Task, checkpointId: number, states: readonly AcknowledgedState[], isFinished: boolean): void;
  decline(task: Task, checkpointId: number, reason: string): void;
  /** The task processed all its input and waits, idle, for the job's final checkpoint. */
  ended(task: Task): void;
}

/**
 * A task's operators and channels, built by the task manager: a source task has `source`, any other a `gate`.
 */
export interface TaskWiring {
  readonly chain: readonly ChainMember[];
  /** Set for source tasks (the head is the source operator). */
  readonly source: SourceOperator | undefined;
  /** Set for every other task. */
  readonly gate: InputGate | undefined;
  readonly writers: readonly RecordWriter[];
  readonly outputChannels: readonly OutputChannel[];
}

/** Split assignment messages from the enumerator, delivered to a source task's mailbox. */
export type SplitMail =
  | { readonly kind: 'add-splits'; readonly splits: readonly SourceSplit[] }
  | { readonly kind: 'no-more-splits' }
  | { readonly kind: 'assignment-round-done' };

/** Callbacks from a task to its task manager. */
export interface TaskEvents {
  /** Puts the task on its thread's run queue. */
  readonly wake: (task: Task) => void;
  readonly onFinished: (task: Task) => void;
  readonly onFailed: (task: Task, error: EddyError) => void;
}

/**
 * The lifecycle of a task: each transition happens in one place.
 * created ▶ opening ▶ running ▶ finishing ▶ (checkpointing: `ended` ▶ final checkpoint complete ▶)
 * finished; any ▶ failed | cancelled. An `ended` task has emitted everything and still takes part in
 * checkpoints (triggered directly), so that the final checkpoint commits its sinks' last output.
 */
export type TaskState = 'created' | 'opening' | 'running' | 'finishing' | 'ended' | 'finished' | 'failed' | 'cancelled';

/** Steps a task runs per scheduling turn at most, so that tasks sharing a thread take turns. */
export const MAX_STEPS_PER_TURN = 64;

/**
 * A task runs one chain of one vertex subtask, mailbox style: one thing at a time — a mail (split
 * assignment, buffer-timeout flush), due processing-time callbacks, then one unit of input: one
 * source poll or one message from the input gate, pushed synchronously through the chain. A task only
 * takes input when every output channel has credit and no operator (a sink) asks it to wait, so a
 * slow consumer stops it, and a stopped task stops its own producers in turn.
 *
 * Errors from operators reach the task boundary attributed to their operator (uid + subtask) and fail
 * the task; nothing is swallowed. `close` runs for every operator on every path.
 */
export class Task {
  readonly name: string;
  state: TaskState = 'created';
  /** Scheduler bookkeeping: true while on the run queue. */
  isQueued = false;
  readonly timers: ProcessingTimeService;

  private wiring: TaskWiring | undefined = undefined;
  private readonly mailbox: Array<() => void> = [];
  /** Waiting for a promise (an operator's readiness, the reader's availability). */
  private isParked = false;
  /**
   * Set when a readiness promise resolved: the next step takes input without asking again, so a writer
   * that keeps returning already-resolved promises still makes progress (one batch per promise).
   */
  private hasReadinessGrant = false;
  private canPollSource = true;
  private isClosed = false;
  private flushTimer: NodeJS.Timeout | undefined = undefined;
  /** The newest checkpoint this task snapshotted (a direct trigger and a barrier may both arrive). */
  private lastCheckpointId = 0;

  constructor(
    readonly vertexId: number,
    readonly subtask: number,
    readonly parallelism: number,
    vertexName: string,
    clock: Clock,
    private readonly bufferTimeoutMs: number,
    private readonly events: TaskEvents,
    private readonly checkpointing: TaskCheckpointing | undefined = undefined,
    /** The state each operator restores before `open` (undefined result: start empty). */
    private readonly restoredState: ((uid: string, subtask: number) => Promise<OperatorSnapshot | undefined>) | undefined = undefined,
  ) {
    this.name = `${vertexName} (${subtask + 1}/${parallelism})`;
    this.timers = new ProcessingTimeService(clock, () => this.events.wake(this));
  }

  wire(wiring: TaskWiring): void {
    this.wiring = wiring;
    const wake = (): void => this.events.wake(this);
    wiring.gate?.onData(wake);
    const announce = (isIdle: boolean): void => {
      for (const channel of wiring.outputChannels) channel.announceStatus(isIdle);
    };
    wiring.gate?.onStatusKnown(announce);
    wiring.gate?.onBarrierAligned((checkpointId) => this.performCheckpoint(checkpointId));
    wiring.gate?.onCheckpointAborted((checkpointId, reason) => this.checkpointing?.decline(this, checkpointId, reason));
    wiring.source?.setStatusListener(announce);
    for (const channel of wiring.outputChannels) channel.onAvailable = wake;
  }

  private get wired(): TaskWiring {
    if (this.wiring === undefined) throw new EddyError(`task ${this.name} is not wired`);
    return this.wiring;
  }

  private get head(): ChainMember {
    return this.wired.chain[0]!;
  }

  /** Opens the chain (tail first, so that every operator is open before its input arrives). */
  start(): void {
    if (this.state !== 'created') return;
    this.state = 'opening';
    this.track(this.open());
  }

  private async open(): Promise<void> {
    const chain = this.wired.chain;
    if (this.restoredState !== undefined) {
      for (const member of chain) {
        try {
          const snapshot = await this.restoredState(member.uid, this.subtask);
          if (snapshot !== undefined) member.operator.restoreState(snapshot);
        } catch (error) {
          throw attributeError(error, member.uid, this.subtask);
        }
      }
      if (this.state !== 'opening') return;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const member = chain[i]!;
      try {
        member.operator.open();
      } catch (error) {
        throw attributeError(error, member.uid, this.subtask);
      }
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const member = chain[i]!;
      if (member.operator.openAsync === undefined) continue;
      try {
        await member.operator.openAsync();
      } catch (error) {
        throw attributeError(error, member.uid, this.subtask);
      }
    }
    if (this.state !== 'opening') return;
    this.state = 'running';
    this.events.wake(this);
  }

  /** Queues work for the task's thread; it runs between input steps. */
  post(mail: () => void): void {
    this.mailbox.push(mail);
    this.events.wake(this);
  }

  deliverSplitMail(mail: SplitMail): void {
    this.post(() => {
      const source = this.wired.source;
      if (source === undefined) throw new EddyError(`split assignment for task ${this.name}, which has no source`);
      try {
        switch (mail.kind) {
          case 'add-splits':
            source.addSplits(mail.splits);
            break;
          case 'no-more-splits':
            source.notifyNoMoreSplits();
            break;
          case 'assignment-round-done':
            source.notifyAssignmentRoundDone();
            break;
        }
      } catch (error) {
        throw attributeError(error, this.head.uid, this.subtask);
      }
      this.canPollSource = true;
    });
  }

  /**
   * Checkpoint `checkpointId` reaches this task directly: a running source snapshots and emits the
   * barrier; an ended task snapshots its final state. Others get checkpoints by barrier.
   */
  triggerCheckpoint(checkpointId: number): void {
    this.post(() => {
      if (this.state === 'ended' || this.wired.source !== undefined) this.performCheckpoint(checkpointId);
    });
  }

  /** Every task acknowledged `checkpointId` and its metadata is durable: operators may commit. */
  notifyCheckpointComplete(checkpointId: number, isFinal: boolean): void {
    this.post(() => {
      for (const member of this.wired.chain) {
        try {
          member.operator.notifyCheckpointComplete(checkpointId);
        } catch (error) {
          throw attributeError(error, member.uid, this.subtask);
        }
      }
      if (isFinal && this.state === 'ended') this.track(this.closeAfterFinalCheckpoint());
    });
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.post(() => {
      this.wired.gate?.abortCheckpoint(checkpointId);
      for (const member of this.wired.chain) {
        try {
          member.operator.notifyCheckpointAborted?.(checkpointId);
        } catch (error) {
          throw attributeError(error, member.uid, this.subtask);
        }
      }
    });
  }

  /**
   * Snapshots the chain synchronously, forwards barrier n (unless the task ended: nothing flows any
   * more), then completes the operators' asynchronous parts and writes every snapshot off the mailbox,
   * and acknowledges with the state handles. A failure declines the checkpoint; it never fails the task.
   */
  private performCheckpoint(checkpointId: number): void {
    const checkpointing = this.checkpointing;
    if (checkpointing === undefined) throw new EddyError(`task ${this.name} got checkpoint ${checkpointId} with checkpointing off`);
    if (checkpointId <= this.lastCheckpointId) return;
    this.lastCheckpointId = checkpointId;
    const isFinished = this.state === 'ended';
    const chain = this.wired.chain;
    const snapshots: OperatorSnapshot[] = [];
    for (const member of chain) {
      try {
        snapshots.push(member.operator.snapshotState(checkpointId));
      } catch (error) {
        // Native captures already started are abandoned: nobody will await them.
        for (const taken of snapshots) taken.pendingKeyed?.catch(() => undefined);
        checkpointing.decline(this, checkpointId, describeError(attributeError(error, member.uid, this.subtask)));
        return;
      }
    }
    if (!isFinished) {
      for (const writer of this.wired.writers) writer.broadcastEvent({ kind: 'barrier', checkpointId });
    }
    const persist = async (): Promise<AcknowledgedState[]> => {
      for (const member of chain) {
        if (member.operator.completeSnapshotAsync === undefined) continue;
        try {
          await member.operator.completeSnapshotAsync(checkpointId);
        } catch (error) {
          throw attributeError(error, member.uid, this.subtask);
        }
      }
      return Promise.all(
        chain.map(async (member, i) => {
          const taken = snapshots[i]!;
          let snapshot = taken;
          if (taken.pendingKeyed !== undefined) {
            const { pendingKeyed, ...rest } = taken;
            try {
              snapshot = { ...rest, nativeKeyed: await pendingKeyed };
            } catch (error) {
              throw attributeError(error, member.uid, this.subtask);
            }
          }
          const isKeyed = snapshot.keyed !== undefined || snapshot.nativeKeyed !== undefined;
          return {
            uid: member.uid,
            handle: await checkpointing.writeState(
              checkpointId,
              member.uid,
              this.subtask,
              // Non-keyed state has an empty range: restore then redistributes it from every old subtask.
              isKeyed ? [member.keyGroupRange.start, member.keyGroupRange.end] : [0, 0],
              isFinished,
              snapshot,
            ),
          };
        }),
      );
    };
    persist().then(
      (states) => {
        if (this.state === 'failed' || this.state === 'cancelled') return;
        checkpointing.acknowledge(this, checkpointId, states, isFinished);
      },
      (error: unknown) => {
        if (this.state === 'failed' || this.state === 'cancelled') return;
        checkpointing.decline(this, checkpointId, describeError(error));
      },
    );
  }

  isRunnable(): boolean {
    if (this.state === 'ended') return this.mailbox.length > 0;
    if (this.state !== 'running') return false;
    if (this.mailbox.length > 0 || this.timers.hasDue) return true;
    if (this.isParked || !this.hasOutputCredit()) return false;
    const wiring = this.wiring!;
    return wiring.source !== undefined ? this.canPollSource : wiring.gate!.hasData;
  }

  /** Runs one step; never throws (a failure fails the task). */
  runStep(): void {
    if (this.state === 'ended') {
      try {
        while (this.mailbox.length > 0 && this.state === 'ended') this.mailbox.shift()!();
      } catch (error) {
        this.fail(error);
      }
      return;
    }
    if (this.state !== 'running') return;
    try {
      while (this.mailbox.length > 0 && this.state === 'running') this.mailbox.shift()!();
      if (this.state === 'running' && this.timers.hasDue) {
        this.timers.fireDue((error, ownerUid) => {
          throw attributeError(error, ownerUid, this.subtask);
        });
      }
      if (this.state !== 'running' || this.isParked || !this.hasOutputCredit()) return;
      if (this.parkIfNotReady()) return;
      const wiring = this.wiring!;
      if (wiring.source !== undefined) this.stepSource(wiring.source);
      else {
        const step = wiring.gate!.processNext();
        if (step === 'all-ended') this.beginFinish();
        else if (step === 'preparing') this.park(wiring.gate!.takePreparation()!, this.head.uid);
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** The scheduler calls this when the task leaves the run queue: start the buffer timeout. */
  onIdle(): void {
    if (this.flushTimer !== undefined || this.state !== 'running') return;
    const writers = this.wiring?.writers ?? [];
    if (!writers.some((writer) => writer.hasBufferedRecords)) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.post(() => {
        for (const writer of writers) writer.flush();
      });
    }, this.bufferTimeoutMs);
  }

  private stepSource(source: SourceOperator): void {
    let status;
    try {
      status = source.pollNext();
    } catch (error) {
      throw attributeError(error, this.head.uid, this.subtask);
    }
    if (status === 'more-available') return;
    if (status === 'nothing-available') {
      this.canPollSource = false;
      source.isAvailable().then(
        () => {
          this.canPollSource = true;
          this.events.wake(this);
        },
        (error: unknown) => this.fail(attributeError(error, this.head.uid, this.subtask)),
      );
      return;
    }
    try {
      source.emitEndOfInput();
    } catch (error) {
      throw attributeError(error, this.head.uid, this.subtask);
    }
    this.beginFinish();
  }

  private hasOutputCredit(): boolean {
    const channels = this.wiring!.outputChannels;
    for (let i = 0; i < channels.length; i++) if (!channels[i]!.isAvailable) return false;
    return true;
  }

  /** Parks the task while an operator (a sink) is not ready for more input. */
  private parkIfNotReady(): boolean {
    if (this.hasReadinessGrant) {
      this.hasReadinessGrant = false;
      return false;
    }
    const chain = this.wiring!.chain;
    for (let i = 0; i < chain.length; i++) {
      const member = chain[i]!;
      const operator = member.operator;
      if (operator.waitUntilReady === undefined) continue;
      const ready = operator.waitUntilReady();
      if (ready === undefined) continue;
      this.park(ready, member.uid);
      return true;
    }
    return false;
  }

  private park(promise: Promise<void>, uid: string): void {
    this.isParked = true;
    promise.then(
      () => {
        this.isParked = false;
        this.hasReadinessGrant = true;
        this.events.wake(this);
      },
      (error: unknown) => this.fail(attributeError(error, uid, this.subtask)),
    );
  }

  /** All input ended (the max watermark went through): finish the chain head to tail, then close. */
  private beginFinish(): void {
    this.state = 'finishing';
    this.clearFlushTimer();
    this.track(this.finish());
  }

  private async finish(): Promise<void> {
    const chain = this.wired.chain;
    for (let i = 0; i < chain.length; i++) {
      const member = chain[i]!;
      try {
        if (i > 0) member.operator.endInput(member.input);
        member.operator.finish();
      } catch (error) {
        throw attributeError(error, member.uid, this.subtask);
      }
    }
    for (const member of chain) {
      if (member.operator.finishAsync === undefined) continue;
      try {
        await member.operator.finishAsync();
      } catch (error) {
        throw attributeError(error, member.uid, this.subtask);
      }
    }
    if (this.state !== 'finishing') return;
    for (const writer of this.wired.writers) writer.broadcastEvent(END_OF_INPUT);
    if (this.checkpointing !== undefined) {
      this.state = 'ended';
      this.checkpointing.ended(this);
      this.events.wake(this);
      return;
    }
    await this.close();
    if (this.state !== 'finishing') return;
    this.state = 'finished';
    this.events.onFinished(this);
  }

  /** The job's final checkpoint completed (the sinks committed): close and report finished. */
  private async closeAfterFinalCheckpoint(): Promise<void> {
    this.state = 'finishing';
    await this.close();
    if (this.state !== 'finishing') return;
    this.state = 'finished';
    this.events.onFinished(this);
  }

  /** Closes every operator once: `close` on all (tail first), then `closeAsync`. Returns the first error. */
  private async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.timers.dispose();
    this.clearFlushTimer();
    let firstError: EddyError | undefined;
    const chain = this.wiring?.chain ?? [];
    for (let i = chain.length - 1; i >= 0; i--) {
      const member = chain[i]!;
      try {
        member.operator.close();
      } catch (error) {
        firstError ??= attributeError(error, member.uid, this.subtask);
      }
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const member = chain[i]!;
      if (member.operator.closeAsync === undefined) continue;
      try {
        await member.operator.closeAsync();
      } catch (error) {
        firstError ??= attributeError(error, member.uid, this.subtask);
      }
    }
    if (firstError !== undefined) throw firstError;
  }

  /** Fails the task with `error` (attributed to the head if it names no operator) and closes it. */
  fail(error: unknown): void {
    if (this.state === 'finished' || this.state === 'failed' || this.state === 'cancelled') return;
    this.state = 'failed';
    const failure =
      error instanceof EddyError && error.operatorUid !== undefined
        ? error
        : error instanceof EddyError
          ? new EddyError(error.message, {
              domain: error.domain,
              isRetriable: error.isRetriable,
              cause: error,
              operatorUid: this.wiring?.chain[0]?.uid,
              subtask: this.subtask,
            })
          : attributeError(error, this.wiring?.chain[0]?.uid ?? this.name, this.subtask);
    this.events.onFailed(this, failure);
  }

  /** Stops the task (after a failure elsewhere, or its own) and closes its operators. Never rejects. */
  async cancel(): Promise<void> {
    if (this.state !== 'failed' && this.state !== 'finished') this.state = 'cancelled';
    this.mailbox.length = 0;
    try {
      await this.close();
    } catch {
      // The job already fails with its root cause; a close error after cancellation is secondary.
    }
  }

  metricsSnapshot(): Array<readonly [nodeId: number, metrics: OperatorMetricsSnapshot]> {
    return (this.wiring?.chain ?? []).map((member) => [member.nodeId, member.metrics.toJSON()] as const);
  }

  private clearFlushTimer(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  private track(promise: Promise<void>): void {
    promise.then(undefined, (error: unknown) => this.fail(error));
  }
}
