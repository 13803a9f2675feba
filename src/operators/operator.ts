import type { OutputTag } from '../core/output-tag.ts';
import type { Clock } from '../core/time.ts';
import type { KeyGroupRange } from '../core/key-group.ts';
import type { KeyedStateBackend, KeyedStateSnapshot } from '../state/keyed-state-backend.ts';
import type { OperatorMetrics } from './operator-metrics.ts';
import type { CheckpointingMode } from '../checkpoint/checkpoint-config.ts';
import type { OperatorSnapshot } from '../checkpoint/checkpoint-storage.ts';

/**
 * The operator contract. An operator is one node of the graph running in one subtask. The task calls
 * its hooks one at a time (the mailbox model: never concurrently, never re-entrantly from another
 * input); everything on the data path is synchronous. Only `processRecord` is essential: extend
 * {@link OperatorBase} (in `operator-base.ts`) to get sensible defaults for every other hook — watermark
 * combining over inputs, idleness, timers and keyed state wiring.
 *
 * Lifecycle: `setup` ▶ `restoreState` (only when restoring) ▶ `open` ▶ (`processRecord` |
 * `processWatermark` | `processWatermarkStatus` | `endInput` | `snapshotState` |
 * `notifyCheckpointComplete`)* ▶ `finish` (end of all input) ▶ `close` (always, also after failure).
 */
export interface StreamOperator<OUT = unknown> {
  setup(context: OperatorContext<OUT>): void;
  restoreState(snapshot: OperatorSnapshot): void;
  open(): void;
  /** A record on input `input` (0, or 1 for the second input of a two-input operator). */
  processRecord(value: unknown, timestampMs: number, input: number): void;
  /** The watermark of input `input` advanced (already the min over that input's channels). */
  processWatermark(watermarkMs: number, input: number): void;
  /** Input `input` became idle (true) or active again (false). */
  processWatermarkStatus(isIdle: boolean, input: number): void;
  /** Input `input` has ended: no more records or watermarks will arrive on it. */
  endInput(input: number): void;
  /** All inputs ended and the max watermark was processed: flush buffered output. */
  finish(): void;
  /** Synchronous capture of this operator's state. */
  snapshotState(checkpointId: number): OperatorSnapshot;
  notifyCheckpointComplete(checkpointId: number): void;
  close(): void;
  /** Optional async work between `open` and the first input (sinks: open files, connect). */
  openAsync?(): Promise<void>;
  /** Optional backpressure: undefined when ready for more input, else a promise that resolves when it is. */
  waitUntilReady?(): Promise<void> | undefined;
  /**
   * Optional, chain heads only: asynchronous work a batch of records needs before it is processed — a
   * keyed operator on RocksDB loads the state the records will touch, so that processing them stays
   * synchronous and does not block on reads. Undefined when nothing needs loading. Called once per batch
   * (`values[0..length)` with their event times, arriving on `input`), right before that batch is processed; the task does
   * nothing else meanwhile. Only an optimisation: state access stays correct without it.
   */
  prefetch?(values: readonly unknown[], timestamps: ArrayLike<number>, length: number, input: number): Promise<void> | undefined;
  /** Optional async work after `finish` (sinks: flush to durable storage). */
  finishAsync?(): Promise<void>;
  /** Optional async release of external resources, after `close`. */
  closeAsync?(): Promise<void>;
  /**
   * Optional asynchronous part of checkpoint `checkpointId`, after `snapshotState` returned: makes
   * durable what the snapshot refers to (a sink's pre-committed files). The task acknowledges the
   * checkpoint only after every operator's part resolved; a rejection declines the checkpoint.
   */
  completeSnapshotAsync?(checkpointId: number): Promise<void>;
  /** Checkpoint `checkpointId` was aborted (declined, timed out): pending work for it may be dropped. */
  notifyCheckpointAborted?(checkpointId: number): void;
}

/** Where an operator sends its results. Synchronous: in a chain, `collect` calls the next operator. */
export interface Output<T> {
  collect(value: T, timestampMs: number): void;
  collectSide<S>(tag: OutputTag<S>, value: S, timestampMs: number): void;
  emitWatermark(watermarkMs: number): void;
  emitWatermarkStatus(isIdle: boolean): void;
}

/** What the runtime gives an operator at setup. */
export interface OperatorContext<OUT> {
  readonly uid: string;
  readonly name: string;
  readonly subtask: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  readonly output: Output<OUT>;
  readonly clock: Clock;
  readonly metrics: OperatorMetrics;
  /** The job's checkpointing mode and this run attempt's number (restarts get a new one). */
  readonly checkpointing: { readonly mode: CheckpointingMode; readonly attempt: number };
  /** Schedules a processing-time callback on the task's mailbox; returns a cancel function. */
  readonly scheduleProcessingTime: (timeMs: number, callback: (timeMs: number) => void) => () => void;
  /**
   * Creates this operator's keyed state backend (for keyed operators only). The runtime picks the
   * backend kind (memory or RocksDB) from the job's configuration.
   */
  readonly createKeyedStateBackend: () => KeyedStateBackend;
}

/**
 * An operator's snapshot: its keyed state (canonical, per key group) and its operator state (named
 * lists of plain values that are redistributed round-robin — or, for union state, given whole to every
 * subtask — on restore). Restoring at another parallelism passes the snapshots of every old subtask
 * whose key groups overlap; `operatorState` lists are merged by name before being redistributed.
 */
export type { OperatorSnapshot };

/** The snapshot of an operator without state. Shared: never mutate it. */
export const EMPTY_OPERATOR_SNAPSHOT: OperatorSnapshot = { keyed: undefined, operatorState: {} };
