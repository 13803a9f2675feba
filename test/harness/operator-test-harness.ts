import { pack, unpack } from 'msgpackr';
import { computeKeyGroupRangeForOperatorIndex, DEFAULT_MAX_PARALLELISM } from '../../src/core/key-group.ts';
import type { OutputTag } from '../../src/core/output-tag.ts';
import { ManualClock } from '../../src/core/time.ts';
import { OperatorMetrics } from '../../src/operators/operator-metrics.ts';
import type { OperatorSnapshot, Output, StreamOperator } from '../../src/operators/operator.ts';
import { createTestKeyedStateBackend } from '../support/state-backend.ts';
import type { KeyedStateBackend, KeyedStateBackendOptions } from '../../src/state/keyed-state-backend.ts';

/**
 * Drives one operator subtask synchronously with manual time (Kafka Streams' TopologyTestDriver,
 * Flink's OneInputStreamOperatorTestHarness): feed records, watermarks, idleness and processing time;
 * read what it emitted (records with timestamps, watermarks, side outputs, in order); snapshot it and
 * restore the snapshot into a fresh operator mid-stream. Snapshots go through a msgpack round trip, so
 * a test also proves they survive serialization.
 */
export type HarnessElement =
  | { readonly kind: 'record'; readonly value: unknown; readonly timestamp: number }
  | { readonly kind: 'watermark'; readonly timestamp: number }
  | { readonly kind: 'status'; readonly isIdle: boolean }
  | { readonly kind: 'side'; readonly tagId: string; readonly value: unknown; readonly timestamp: number };

export interface HarnessOptions {
  readonly maxParallelism?: number;
  readonly parallelism?: number;
  readonly subtask?: number;
  readonly uid?: string;
  /** Start of processing time (ms). Default 0. */
  readonly processingTimeMs?: number;
  readonly createBackend?: (options: KeyedStateBackendOptions) => KeyedStateBackend;
  /** The checkpointing mode operators see (sinks switch to two-phase commit). Default 'off'. */
  readonly checkpointingMode?: 'exactly-once' | 'at-least-once' | 'off';
  /** The run attempt operators see (restarts get a new one). Default 0. */
  readonly attempt?: number;
}

interface ScheduledCallback {
  readonly timeMs: number;
  readonly seq: number;
  readonly callback: (timeMs: number) => void;
  isCancelled: boolean;
}

export class OperatorTestHarness<OUT = unknown> {
  readonly clock: ManualClock;
  readonly metrics = new OperatorMetrics();
  /** Everything emitted, in order. */
  readonly emitted: HarnessElement[] = [];
  private readonly operator: StreamOperator<OUT>;
  private readonly scheduled: ScheduledCallback[] = [];
  private nextSeq = 0;
  private isOpen = false;

  constructor(
    private readonly createOperator: () => StreamOperator<OUT>,
    private readonly options: HarnessOptions = {},
  ) {
    this.clock = new ManualClock(options.processingTimeMs ?? 0);
    this.operator = createOperator();
  }

  /** Sets up the operator, restores `snapshot` if given, opens it. */
  open(snapshot?: OperatorSnapshot): this {
    const maxParallelism = this.options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
    const parallelism = this.options.parallelism ?? 1;
    const subtask = this.options.subtask ?? 0;
    const uid = this.options.uid ?? 'operator-under-test';
    const keyGroupRange = computeKeyGroupRangeForOperatorIndex(maxParallelism, parallelism, subtask);
    const emitted = this.emitted;
    const output: Output<OUT> = {
      collect: (value, timestamp) => emitted.push({ kind: 'record', value, timestamp }),
      collectSide: <S>(tag: OutputTag<S>, value: S, timestamp: number) =>
        emitted.push({ kind: 'side', tagId: tag.id, value, timestamp }),
      emitWatermark: (timestamp) => emitted.push({ kind: 'watermark', timestamp }),
      emitWatermarkStatus: (isIdle) => emitted.push({ kind: 'status', isIdle }),
    };
    const createBackend = this.options.createBackend ?? createTestKeyedStateBackend;
    this.operator.setup({
      uid,
      name: uid,
      subtask,
      parallelism,
      maxParallelism,
      keyGroupRange,
      output,
      clock: this.clock,
      metrics: this.metrics,
      checkpointing: { mode: this.options.checkpointingMode ?? 'off', attempt: this.options.attempt ?? 0 },
      scheduleProcessingTime: (timeMs, callback) => {
        const entry: ScheduledCallback = { timeMs, seq: this.nextSeq++, callback, isCancelled: false };
        this.scheduled.push(entry);
        return () => {
          entry.isCancelled = true;
        };
      },
      createKeyedStateBackend: () =>
        createBackend({
          operatorUid: uid,
          subtask,
          maxParallelism,
          keyGroupRange,
          clock: this.clock,
          currentWatermark: () => this.metrics.currentWatermarkMs,
        }),
    });
    if (snapshot !== undefined) this.operator.restoreState(snapshot);
    this.operator.open();
    this.isOpen = true;
    return this;
  }

  private checkOpen(): void {
    if (!this.isOpen) throw new Error('call harness.open() first');
  }

  processElement(value: unknown, timestampMs: number, input = 0): this {
    this.checkOpen();
    this.operator.processRecord(value, timestampMs, input);
    return this;
  }

  processWatermark(watermarkMs: number, input = 0): this {
    this.checkOpen();
    this.operator.processWatermark(watermarkMs, input);
    return this;
  }

  processWatermarkStatus(isIdle: boolean, input = 0): this {
    this.checkOpen();
    this.operator.processWatermarkStatus(isIdle, input);
    return this;
  }

  /** Moves processing time to `timeMs`, firing due callbacks in time order (also ones they schedule). */
  setProcessingTime(timeMs: number): this {
    this.checkOpen();
    this.clock.set(timeMs);
    for (;;) {
      let next: ScheduledCallback | undefined;
      for (const entry of this.scheduled) {
        if (entry.isCancelled || entry.timeMs > timeMs) continue;
        if (next === undefined || entry.timeMs < next.timeMs || (entry.timeMs === next.timeMs && entry.seq < next.seq)) {
          next = entry;
        }
      }
      if (next === undefined) break;
      this.scheduled.splice(this.scheduled.indexOf(next), 1);
      next.callback(timeMs);
    }
    return this;
  }

  endInput(input = 0): this {
    this.checkOpen();
    this.operator.endInput(input);
    return this;
  }

  finish(): this {
    this.checkOpen();
    this.operator.finish();
    return this;
  }

  /** A serializable snapshot (msgpack round trip). */
  snapshot(checkpointId = 1): OperatorSnapshot {
    this.checkOpen();
    return unpack(pack(this.operator.snapshotState(checkpointId))) as OperatorSnapshot;
  }

  /**
   * Snapshots this operator, closes it, and returns a fresh harness (same options, a new operator from
   * the same factory, processing time carried over) restored from the snapshot and opened.
   */
  snapshotAndRestore(checkpointId = 1): OperatorTestHarness<OUT> {
    const snapshot = this.snapshot(checkpointId);
    this.close();
    const restored = new OperatorTestHarness<OUT>(this.createOperator, {
      ...this.options,
      processingTimeMs: this.clock.now(),
    });
    return restored.open(snapshot);
  }

  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.operator.close();
  }

  /** Main-output records: [value, timestamp] pairs in emission order. */
  records(): Array<[unknown, number]> {
    const result: Array<[unknown, number]> = [];
    for (const element of this.emitted) if (element.kind === 'record') result.push([element.value, element.timestamp]);
    return result;
  }

  /** Main-output values in emission order. */
  values<T = OUT>(): T[] {
    const result: T[] = [];
    for (const element of this.emitted) if (element.kind === 'record') result.push(element.value as T);
    return result;
  }

  watermarks(): number[] {
    const result: number[] = [];
    for (const element of this.emitted) if (element.kind === 'watermark') result.push(element.timestamp);
    return result;
  }

  sideOutput<S>(tag: OutputTag<S>): Array<[S, number]> {
    const result: Array<[S, number]> = [];
    for (const element of this.emitted) {
      if (element.kind === 'side' && element.tagId === tag.id) result.push([element.value as S, element.timestamp]);
    }
    return result;
  }

  /** Forgets what was emitted so far (e.g. before comparing the output after a restore). */
  clearOutput(): void {
    this.emitted.length = 0;
  }
}
