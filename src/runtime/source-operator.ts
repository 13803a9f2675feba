import { EddyError, UserFunctionError } from '../core/errors.ts';
import { MAX_WATERMARK, MIN_WATERMARK } from '../core/time.ts';
import type { InputStatus, ReaderOutput, Source, SourceReader, SourceSplit } from '../connector/source.ts';
import type { SourceSpec } from '../graph/stream-graph.ts';
import type { OperatorMetrics } from '../operators/operator-metrics.ts';
import type { OperatorContext, OperatorSnapshot, Output, StreamOperator } from '../operators/operator.ts';
import type { TimestampAssigner, WatermarkGenerator, WatermarkOutput } from '../time/watermark-strategy.ts';
import type { WatermarkStrategy } from '../time/watermark-strategy.ts';
import { BadRecordHandler, type BadRecordPolicy } from './bad-record-handler.ts';

/** How a source subtask talks to its split enumerator on the job manager. */
export interface SplitEnumeratorConnection {
  /** The reader started: the enumerator may assign to it. */
  registerReader(): void;
  requestSplit(): void;
}

/** The operator list state holding a source subtask's splits. */
const SPLITS_STATE = 'splits';
/**
 * The operator list state holding each unfinished split's watermark at the checkpoint,
 * `[splitId, watermarkMs]`: restored splits start from it, so the watermark sequence after a restore
 * is the one a failure-free run would have produced (for bounded out-of-orderness, max(restored,
 * max timestamp of the replayed records − d − 1) is exactly the original watermark), and replayed
 * records that were late stay late.
 */
const SPLIT_WATERMARKS_STATE = 'split-watermarks';

/** Processing-time period of the watermark tick of `periodic` sources. */
export const PERIODIC_WATERMARK_INTERVAL_MS = 200;

/** One assigned split's watermark state; it is also the output its watermark generator writes to. */
class SplitWatermarks implements WatermarkOutput {
  watermarkMs = MIN_WATERMARK;
  isIdle = false;
  isFinished = false;

  constructor(
    readonly splitId: string,
    readonly generator: WatermarkGenerator<unknown>,
  ) {}

  emitWatermark(watermarkMs: number): void {
    if (watermarkMs > this.watermarkMs) this.watermarkMs = watermarkMs;
  }

  markIdle(): void {
    this.isIdle = true;
  }

  markActive(): void {
    this.isIdle = false;
  }
}

/**
 * The head operator of a source task: wraps a {@link SourceReader}. For each record it applies the
 * timestamp assigner (a missing or non-integer timestamp is a bad record, located with
 * `reader.describeLastRecord`) and feeds the split's own watermark generator. After every poll (and,
 * for `periodic` sources, every 200 ms of processing time) it emits the minimum watermark over the
 * active splits — unfinished and not idle — if it advanced. The subtask is idle when no split is
 * active: all idle, or none assigned once the enumerator's first assignment round is over or it
 * said no more splits (a reader that gets no split never stalls the job). At end of input it emits
 * MAX_WATERMARK. Bad records follow the job's policy (fail / skip / dead-letter).
 */
export class SourceOperator implements StreamOperator<unknown>, ReaderOutput<unknown> {
  private context!: OperatorContext<unknown>;
  private output!: Output<unknown>;
  private metrics!: OperatorMetrics;
  private reader: SourceReader<unknown, SourceSplit> | undefined = undefined;
  private badRecords!: BadRecordHandler;
  private readonly source: Source<unknown, SourceSplit>;
  private readonly strategy: WatermarkStrategy<unknown>;
  private readonly assigner: TimestampAssigner<unknown>;
  /** True for `noWatermarks()`: records may carry no timestamp (NaN). */
  private readonly allowsMissingTimestamp: boolean;
  private readonly assignerField: string | undefined;

  private readonly splits: SplitWatermarks[] = [];
  private lastSplitId: string | undefined = undefined;
  private lastSplit: SplitWatermarks | undefined = undefined;
  private hasNoMoreSplits = false;
  private isAssignmentRoundDone = false;
  private isIdle = false;
  private lastEmittedWatermarkMs = MIN_WATERMARK;
  private cancelTick: (() => void) | undefined = undefined;
  private restoredSplits: readonly SourceSplit[] = [];
  private readonly restoredSplitWatermarks = new Map<string, number>();

  constructor(
    spec: SourceSpec,
    private readonly enumerator: SplitEnumeratorConnection,
    private readonly badRecordPolicy: BadRecordPolicy,
  ) {
    this.source = spec.source;
    this.strategy = spec.watermarkStrategy;
    this.assigner = spec.watermarkStrategy.timestampAssigner;
    this.allowsMissingTimestamp = !spec.watermarkStrategy.hasEventTime;
    const field = (this.assigner as { fieldName?: unknown }).fieldName;
    this.assignerField = typeof field === 'string' ? field : undefined;
  }

  setup(context: OperatorContext<unknown>): void {
    this.context = context;
    this.output = context.output;
    this.metrics = context.metrics;
    this.badRecords = new BadRecordHandler(this.badRecordPolicy, context.uid, context.subtask, context.metrics);
  }

  /**
   * The splits this subtask had at the checkpoint (redistributed round-robin when the parallelism
   * changed), at their positions; they are handed to the reader once it started, before it registers
   * with the enumerator — which then deals out only the checkpoint's unassigned splits.
   */
  restoreState(snapshot: OperatorSnapshot): void {
    this.restoredSplits = (snapshot.operatorState[SPLITS_STATE] ?? []) as readonly SourceSplit[];
    for (const entry of snapshot.operatorState[SPLIT_WATERMARKS_STATE] ?? []) {
      const [splitId, watermarkMs] = entry as readonly [string, number];
      this.restoredSplitWatermarks.set(splitId, watermarkMs);
    }
  }

  open(): void {
    const context = this.context;
    this.reader = this.source.createReader({
      subtask: context.subtask,
      parallelism: context.parallelism,
      operatorUid: context.uid,
      sendSplitRequest: () => this.enumerator.requestSplit(),
    });
    const reader = this.reader;
    if (reader.splitLags !== undefined) this.metrics.readSplitLags = () => reader.splitLags!();
    if (this.source.watermarkEmission === 'periodic') this.scheduleTick(context.clock.now() + PERIODIC_WATERMARK_INTERVAL_MS);
  }

  async openAsync(): Promise<void> {
    await this.readerOrThrow().start();
    if (this.restoredSplits.length > 0) this.addSplits(this.restoredSplits);
    this.restoredSplits = [];
    this.enumerator.registerReader();
  }

  processRecord(): void {
    throw new EddyError(`source '${this.context.uid}' has no input`);
  }

  processWatermark(): void {}
  processWatermarkStatus(): void {}
  endInput(): void {}
  finish(): void {}

  snapshotState(checkpointId: number): OperatorSnapshot {
    const watermarks: Array<readonly [string, number]> = [];
    for (const split of this.splits) if (!split.isFinished) watermarks.push([split.splitId, split.watermarkMs]);
    return {
      keyed: undefined,
      operatorState: {
        [SPLITS_STATE]: this.readerOrThrow().snapshotState(checkpointId),
        [SPLIT_WATERMARKS_STATE]: watermarks,
      },
    };
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.reader?.notifyCheckpointComplete?.(checkpointId);
  }

  close(): void {
    this.cancelTick?.();
    this.cancelTick = undefined;
    this.badRecords?.close();
  }

  async closeAsync(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    if (reader !== undefined) await reader.close();
  }

  // ---- driven by the task ----

  addSplits(splits: readonly SourceSplit[]): void {
    for (const split of splits) {
      const state = this.splitState(split.splitId);
      const restoredWatermarkMs = this.restoredSplitWatermarks.get(split.splitId);
      if (restoredWatermarkMs !== undefined) state.emitWatermark(restoredWatermarkMs);
    }
    this.readerOrThrow().addSplits(splits);
    if (splits.length > 0) this.announceStatus(false);
    this.emitWatermark();
  }

  private hasAnnouncedStatus = false;
  private onStatusKnown: (isIdle: boolean) => void = () => {};

  /** Called once, when the subtask knows whether it starts active (it got splits) or idle (none). */
  setStatusListener(listener: (isIdle: boolean) => void): void {
    this.onStatusKnown = listener;
  }

  private announceStatus(isIdle: boolean): void {
    if (this.hasAnnouncedStatus) return;
    this.hasAnnouncedStatus = true;
    this.onStatusKnown(isIdle);
  }

  notifyNoMoreSplits(): void {
    this.hasNoMoreSplits = true;
    this.readerOrThrow().notifyNoMoreSplits();
    this.emitWatermark();
  }

  /** The enumerator finished its first assignment round: a subtask still without split is idle. */
  notifyAssignmentRoundDone(): void {
    this.isAssignmentRoundDone = true;
    this.emitWatermark();
    this.announceStatus(this.isIdle);
  }

  /** Polls one batch from the reader, then emits the watermark. */
  pollNext(): InputStatus {
    const status = this.readerOrThrow().pollNext(this);
    this.emitWatermark();
    return status;
  }

  isAvailable(): Promise<void> {
    return this.readerOrThrow().isAvailable();
  }

  /** End of input: the source is active again and its watermark is the maximum. */
  emitEndOfInput(): void {
    this.cancelTick?.();
    this.cancelTick = undefined;
    if (this.isIdle) {
      this.isIdle = false;
      this.output.emitWatermarkStatus(false);
    }
    this.lastEmittedWatermarkMs = MAX_WATERMARK;
    this.metrics.currentWatermarkMs = MAX_WATERMARK;
    this.output.emitWatermark(MAX_WATERMARK);
  }

  // ---- ReaderOutput: the reader's hot path ----

  collect(splitId: string, value: unknown, sourceTimestampMs: number): void {
    const split = splitId === this.lastSplitId ? this.lastSplit! : this.splitState(splitId);
    this.metrics.recordsIn++;
    let timestampMs: number;
    try {
      timestampMs = this.assigner(value, sourceTimestampMs);
    } catch (error) {
      throw new UserFunctionError(this.context.uid, this.context.subtask, error);
    }
    if (!Number.isSafeInteger(timestampMs)) {
      if (!(this.allowsMissingTimestamp && Number.isNaN(timestampMs))) {
        this.rejectTimestamp(splitId, value, timestampMs);
        return;
      }
    }
    split.generator.onEvent(value, timestampMs, split);
    this.metrics.recordsOut++;
    this.output.collect(value, timestampMs);
  }

  reportBadRecord(_splitId: string, location: string, message: string, raw: string): void {
    this.metrics.recordsIn++;
    this.badRecords.handle(location, message, raw);
  }

  finishSplit(splitId: string): void {
    this.splitState(splitId).isFinished = true;
  }

  countBadRecord(_splitId: string, disposition: 'skipped' | 'dead-lettered'): void {
    this.metrics.recordsIn++;
    if (disposition === 'skipped') this.metrics.badRecordsSkipped++;
    else this.metrics.badRecordsDeadLettered++;
  }

  // ----

  private rejectTimestamp(splitId: string, value: unknown, timestampMs: unknown): void {
    const location = this.readerOrThrow().describeLastRecord(splitId);
    const field = this.assignerField === undefined ? '' : ` (field ${this.assignerField})`;
    const message = `timestamp must be an integer epoch-ms, got ${describeValue(timestampMs)}${field}`;
    this.badRecords.handle(location, message, safeStringify(value));
  }

  private splitState(splitId: string): SplitWatermarks {
    let split: SplitWatermarks | undefined;
    for (let i = 0; i < this.splits.length; i++) {
      if (this.splits[i]!.splitId === splitId) {
        split = this.splits[i]!;
        break;
      }
    }
    if (split === undefined) {
      split = new SplitWatermarks(splitId, this.strategy.createWatermarkGenerator({ clock: this.context.clock }));
      this.splits.push(split);
    }
    this.lastSplitId = splitId;
    this.lastSplit = split;
    return split;
  }

  /** Emits the min watermark over active splits if it advanced, or declares the subtask idle. */
  private emitWatermark(): void {
    let minWatermarkMs = Number.POSITIVE_INFINITY;
    let hasActive = false;
    let hasUnfinished = false;
    for (let i = 0; i < this.splits.length; i++) {
      const split = this.splits[i]!;
      if (split.isFinished) continue;
      hasUnfinished = true;
      split.generator.onPeriodicEmit(split);
      if (split.isIdle) continue;
      hasActive = true;
      if (split.watermarkMs < minWatermarkMs) minWatermarkMs = split.watermarkMs;
    }
    if (hasActive) {
      if (this.isIdle) {
        this.isIdle = false;
        this.output.emitWatermarkStatus(false);
      }
      if (minWatermarkMs > this.lastEmittedWatermarkMs) {
        this.lastEmittedWatermarkMs = minWatermarkMs;
        this.metrics.currentWatermarkMs = minWatermarkMs;
        this.output.emitWatermark(minWatermarkMs);
      }
    } else if (!this.isIdle && (hasUnfinished || this.hasNoMoreSplits || this.isAssignmentRoundDone)) {
      this.isIdle = true;
      this.output.emitWatermarkStatus(true);
    }
  }

  private scheduleTick(timeMs: number): void {
    this.cancelTick = this.context.scheduleProcessingTime(timeMs, (firedAtMs) => {
      this.emitWatermark();
      this.scheduleTick(firedAtMs + PERIODIC_WATERMARK_INTERVAL_MS);
    });
  }

  private readerOrThrow(): SourceReader<unknown, SourceSplit> {
    if (this.reader === undefined) throw new EddyError(`source '${this.context.uid}' is not open`);
    return this.reader;
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  return safeStringify(value);
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
