import type { CompletedCheckpointStats } from '../checkpoint/checkpoint-coordinator.ts';
import type { ExecutionPlan } from '../graph/plan.ts';
import type { OperatorMetricsSnapshot } from '../operators/operator-metrics.ts';
import type { SubtaskMetrics } from './task-manager.ts';

/** The summary of a finished job: every operator's metrics, summed over its subtasks. */
export interface JobResult {
  readonly jobName: string;
  readonly durationMs: number;
  readonly operators: ReadonlyArray<OperatorResult>;
}

/** One operator's totals at the end of a run. */
export interface OperatorResult {
  readonly uid: string;
  readonly name: string;
  readonly kind: string;
  readonly parallelism: number;
  /** Counters summed over subtasks; `currentWatermarkMs` is the minimum over subtasks. */
  readonly metrics: OperatorMetricsSnapshot;
}

/** A progress report while the job runs (every `progressIntervalMs`). */
export interface JobProgress {
  readonly elapsedMs: number;
  /** Records emitted by all sources so far. */
  readonly recordsIn: number;
  /** Records received by all sinks (or, without sinks, emitted by the last operators) so far. */
  readonly recordsOut: number;
  /** Source records per second since the previous report. */
  readonly recordsInPerSecond: number;
  readonly sources: ReadonlyArray<{
    readonly uid: string;
    readonly name: string;
    readonly recordsOut: number;
    /** Per split, records behind the end of the input (sources that report lag: Kafka). */
    readonly splitLags?: ReadonlyArray<readonly [splitId: string, lagRecords: number]>;
  }>;
  /** Minimum current watermark over the sinks (or the last operators); MIN_SAFE_INTEGER before any. */
  readonly watermarkMs: number;
  /** The newest completed checkpoint of this run, if the job checkpoints and one completed. */
  readonly lastCheckpoint?: CompletedCheckpointStats;
}

const EMPTY: OperatorMetricsSnapshot = {
  recordsIn: 0,
  recordsOut: 0,
  lateRecordsDropped: 0,
  lateRecordsSideOutput: 0,
  sideOutputDiscarded: 0,
  badRecordsSkipped: 0,
  badRecordsDeadLettered: 0,
  currentWatermarkMs: Number.MIN_SAFE_INTEGER,
};

/** The latest metrics of every operator subtask, as reported by the tasks, and their aggregates. */
export class JobMetrics {
  private readonly latest = new Map<string, SubtaskMetrics>();
  private lastProgressAtMs: number;
  private lastRecordsIn = 0;
  private lastCheckpoint: CompletedCheckpointStats | undefined = undefined;

  constructor(
    private readonly plan: ExecutionPlan,
    private readonly startedAtMs: number,
  ) {
    this.lastProgressAtMs = startedAtMs;
  }

  update(metrics: readonly SubtaskMetrics[]): void {
    for (const entry of metrics) this.latest.set(`${entry[0]}/${entry[1]}`, entry);
  }

  checkpointCompleted(stats: CompletedCheckpointStats): void {
    this.lastCheckpoint = stats;
  }

  /** One node's metrics, summed over the subtasks reported so far. */
  aggregate(nodeId: number): OperatorMetricsSnapshot {
    const planned = this.plan.nodes.get(nodeId)!;
    let sum: OperatorMetricsSnapshot | undefined;
    for (let subtask = 0; subtask < planned.parallelism; subtask++) {
      const entry = this.latest.get(`${nodeId}/${subtask}`);
      const metrics = entry === undefined ? EMPTY : entry[2];
      sum = sum === undefined ? metrics : combine(sum, metrics);
    }
    return sum ?? EMPTY;
  }

  result(jobName: string, nowMs: number): JobResult {
    return {
      jobName,
      durationMs: nowMs - this.startedAtMs,
      operators: this.plan.graph.nodes.map((node) => ({
        uid: node.uid,
        name: node.name,
        kind: node.kind,
        parallelism: this.plan.nodes.get(node.id)!.parallelism,
        metrics: this.aggregate(node.id),
      })),
    };
  }

  progress(nowMs: number): JobProgress {
    const graph = this.plan.graph;
    const sources = graph.nodes
      .filter((node) => node.source !== undefined)
      .map((node) => {
        const metrics = this.aggregate(node.id);
        return {
          uid: node.uid,
          name: node.name,
          recordsOut: metrics.recordsOut,
          ...(metrics.splitLags === undefined ? {} : { splitLags: metrics.splitLags }),
        };
      });
    const recordsIn = sources.reduce((sum, source) => sum + source.recordsOut, 0);
    const hasOutgoing = new Set(graph.edges.map((edge) => edge.sourceId));
    const sinks = graph.nodes.filter((node) => node.isSink);
    const ends = sinks.length > 0 ? sinks : graph.nodes.filter((node) => !hasOutgoing.has(node.id));
    let recordsOut = 0;
    let watermarkMs = Number.POSITIVE_INFINITY;
    for (const node of ends) {
      const metrics = this.aggregate(node.id);
      recordsOut += node.isSink ? metrics.recordsIn : metrics.recordsOut;
      watermarkMs = Math.min(watermarkMs, metrics.currentWatermarkMs);
    }
    const elapsedSinceLastMs = Math.max(1, nowMs - this.lastProgressAtMs);
    const recordsInPerSecond = ((recordsIn - this.lastRecordsIn) * 1000) / elapsedSinceLastMs;
    this.lastProgressAtMs = nowMs;
    this.lastRecordsIn = recordsIn;
    return {
      elapsedMs: nowMs - this.startedAtMs,
      recordsIn,
      recordsOut,
      recordsInPerSecond,
      sources,
      watermarkMs: watermarkMs === Number.POSITIVE_INFINITY ? Number.MIN_SAFE_INTEGER : watermarkMs,
      ...(this.lastCheckpoint === undefined ? {} : { lastCheckpoint: this.lastCheckpoint }),
    };
  }
}

function combine(a: OperatorMetricsSnapshot, b: OperatorMetricsSnapshot): OperatorMetricsSnapshot {
  return {
    recordsIn: a.recordsIn + b.recordsIn,
    recordsOut: a.recordsOut + b.recordsOut,
    lateRecordsDropped: a.lateRecordsDropped + b.lateRecordsDropped,
    lateRecordsSideOutput: a.lateRecordsSideOutput + b.lateRecordsSideOutput,
    sideOutputDiscarded: a.sideOutputDiscarded + b.sideOutputDiscarded,
    badRecordsSkipped: a.badRecordsSkipped + b.badRecordsSkipped,
    badRecordsDeadLettered: a.badRecordsDeadLettered + b.badRecordsDeadLettered,
    currentWatermarkMs: Math.min(a.currentWatermarkMs, b.currentWatermarkMs),
    ...(a.splitLags === undefined && b.splitLags === undefined ? {} : { splitLags: [...(a.splitLags ?? []), ...(b.splitLags ?? [])] }),
  };
}
