/**
 * Per-operator-subtask counters. Plain numeric fields on the hot path (no map lookups); the runtime
 * reads and aggregates them for the progress line, the end-of-run summary and (later) Prometheus.
 */
export class OperatorMetrics {
  recordsIn = 0;
  recordsOut = 0;
  /** Records later than the allowed lateness, dropped because no late-data side output was set. */
  lateRecordsDropped = 0;
  /** Records later than the allowed lateness, routed to the late-data side output. */
  lateRecordsSideOutput = 0;
  /** Bad input records skipped by `--on-bad-record skip`. */
  badRecordsSkipped = 0;
  /** Bad input records routed to a dead-letter file. */
  badRecordsDeadLettered = 0;
  /** Records emitted to a side output that nothing reads (no edge consumes that tag): discarded, but counted. */
  sideOutputDiscarded = 0;
  /** Current output watermark of the operator (MIN_SAFE_INTEGER before any). */
  currentWatermarkMs = Number.MIN_SAFE_INTEGER;
  /**
   * Set by a source operator whose reader reports lag: read when a snapshot is taken (about once a
   * second), never on the hot path.
   */
  readSplitLags: (() => ReadonlyArray<readonly [splitId: string, lagRecords: number]>) | undefined = undefined;

  toJSON(): OperatorMetricsSnapshot {
    const readSplitLags = this.readSplitLags;
    return {
      recordsIn: this.recordsIn,
      recordsOut: this.recordsOut,
      lateRecordsDropped: this.lateRecordsDropped,
      lateRecordsSideOutput: this.lateRecordsSideOutput,
      badRecordsSkipped: this.badRecordsSkipped,
      badRecordsDeadLettered: this.badRecordsDeadLettered,
      sideOutputDiscarded: this.sideOutputDiscarded,
      currentWatermarkMs: this.currentWatermarkMs,
      ...(readSplitLags === undefined ? {} : { splitLags: readSplitLags() }),
    };
  }
}

/** A plain copy of one subtask's counters and watermark, for reports and cross-thread messages. */
export interface OperatorMetricsSnapshot {
  readonly recordsIn: number;
  readonly recordsOut: number;
  readonly lateRecordsDropped: number;
  readonly lateRecordsSideOutput: number;
  readonly badRecordsSkipped: number;
  readonly badRecordsDeadLettered: number;
  readonly sideOutputDiscarded: number;
  readonly currentWatermarkMs: number;
  /** Sources that report lag (Kafka): records each assigned split is behind, as last observed. */
  readonly splitLags?: ReadonlyArray<readonly [splitId: string, lagRecords: number]>;
}
