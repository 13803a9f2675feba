import { EddyError, UserFunctionError } from '../core/errors.ts';
import type { OutputTag } from '../core/output-tag.ts';
import type { OperatorMetrics } from '../operators/operator-metrics.ts';
import type { Output, StreamOperator } from '../operators/operator.ts';
import type { RecordWriter } from './record-writer.ts';

/**
 * The outputs that wire a chain together. An operator's output calls the chained operators after it
 * directly (synchronously, no queue, no copy) and appends to the record writers of its network edges.
 * A failure is attributed to the operator it came from: the first link that catches an error without
 * an operator uid wraps it in a {@link UserFunctionError} naming that operator and subtask.
 *
 * The common shapes (one chained successor; one network edge; nothing) get their own classes so that
 * the per-record call sites stay monomorphic.
 */
export interface ChainedSuccessor {
  readonly operator: StreamOperator<unknown>;
  readonly input: number;
  readonly uid: string;
  readonly subtask: number;
}

/** Side-output writers by OutputTag id. */
export type SideOutputWriters = ReadonlyMap<string, readonly RecordWriter[]>;

/**
 * Names the operator subtask an error came from. Eddy's own errors (a missing input file, a bad
 * record, a configuration mistake) keep their class, domain and message and only gain the operator;
 * whatever user code threw becomes a UserFunctionError.
 */
export function attributeError(error: unknown, uid: string, subtask: number): EddyError {
  if (error instanceof EddyError) return error.attributeTo(uid, subtask);
  return new UserFunctionError(uid, subtask, error);
}

/**
 * The output of one chained operator: calls its chained successors, then writes to its network edges; side
 * outputs go to `sideWriters` by tag id. Picks a specialized class for the common shapes.
 */
export function createChainOutput(
  successors: readonly ChainedSuccessor[],
  writers: readonly RecordWriter[],
  sideWriters: SideOutputWriters,
  metrics: OperatorMetrics,
): Output<unknown> {
  if (sideWriters.size === 0) {
    if (successors.length === 1 && writers.length === 0) return new ChainedOutput(successors[0]!, metrics);
    if (successors.length === 0 && writers.length === 1) return new WriterOutput(writers[0]!, metrics);
    if (successors.length === 0 && writers.length === 0) return new DiscardingOutput(metrics);
  }
  return new FanOutOutput(successors, writers, sideWriters, metrics);
}

class ChainedOutput implements Output<unknown> {
  private readonly operator: StreamOperator<unknown>;
  private readonly input: number;

  constructor(
    private readonly successor: ChainedSuccessor,
    private readonly metrics: OperatorMetrics,
  ) {
    this.operator = successor.operator;
    this.input = successor.input;
  }

  collect(value: unknown, timestampMs: number): void {
    try {
      this.operator.processRecord(value, timestampMs, this.input);
    } catch (error) {
      throw attributeError(error, this.successor.uid, this.successor.subtask);
    }
  }

  /** No edge reads any side output of this operator: the record is discarded, and counted. */
  collectSide<S>(_tag: OutputTag<S>): void {
    this.metrics.sideOutputDiscarded++;
  }

  emitWatermark(watermarkMs: number): void {
    try {
      this.operator.processWatermark(watermarkMs, this.input);
    } catch (error) {
      throw attributeError(error, this.successor.uid, this.successor.subtask);
    }
  }

  emitWatermarkStatus(isIdle: boolean): void {
    try {
      this.operator.processWatermarkStatus(isIdle, this.input);
    } catch (error) {
      throw attributeError(error, this.successor.uid, this.successor.subtask);
    }
  }
}

class WriterOutput implements Output<unknown> {
  constructor(
    private readonly writer: RecordWriter,
    private readonly metrics: OperatorMetrics,
  ) {}

  collect(value: unknown, timestampMs: number): void {
    this.writer.emit(value, timestampMs);
  }

  collectSide<S>(_tag: OutputTag<S>): void {
    this.metrics.sideOutputDiscarded++;
  }

  emitWatermark(watermarkMs: number): void {
    this.writer.broadcastEvent({ kind: 'watermark', watermarkMs });
  }

  emitWatermarkStatus(isIdle: boolean): void {
    this.writer.broadcastEvent({ kind: 'watermark-status', isIdle });
  }
}

/** The output of a node with no consumer (a sink's). */
class DiscardingOutput implements Output<unknown> {
  constructor(private readonly metrics: OperatorMetrics) {}
  collect(): void {}
  collectSide(): void {
    this.metrics.sideOutputDiscarded++;
  }
  emitWatermark(): void {}
  emitWatermarkStatus(): void {}
}

class FanOutOutput implements Output<unknown> {
  private readonly allWriters: RecordWriter[];

  constructor(
    private readonly successors: readonly ChainedSuccessor[],
    private readonly writers: readonly RecordWriter[],
    private readonly sideWriters: SideOutputWriters,
    private readonly metrics: OperatorMetrics,
  ) {
    this.allWriters = [...writers];
    for (const list of sideWriters.values()) this.allWriters.push(...list);
  }

  collect(value: unknown, timestampMs: number): void {
    for (let i = 0; i < this.successors.length; i++) {
      const successor = this.successors[i]!;
      try {
        successor.operator.processRecord(value, timestampMs, successor.input);
      } catch (error) {
        throw attributeError(error, successor.uid, successor.subtask);
      }
    }
    for (let i = 0; i < this.writers.length; i++) this.writers[i]!.emit(value, timestampMs);
  }

  collectSide<S>(tag: OutputTag<S>, value: S, timestampMs: number): void {
    const writers = this.sideWriters.get(tag.id);
    if (writers === undefined) {
      this.metrics.sideOutputDiscarded++;
      return;
    }
    for (let i = 0; i < writers.length; i++) writers[i]!.emit(value, timestampMs);
  }

  emitWatermark(watermarkMs: number): void {
    for (const successor of this.successors) {
      try {
        successor.operator.processWatermark(watermarkMs, successor.input);
      } catch (error) {
        throw attributeError(error, successor.uid, successor.subtask);
      }
    }
    if (this.allWriters.length === 0) return;
    const event = { kind: 'watermark', watermarkMs } as const;
    for (const writer of this.allWriters) writer.broadcastEvent(event);
  }

  emitWatermarkStatus(isIdle: boolean): void {
    for (const successor of this.successors) {
      try {
        successor.operator.processWatermarkStatus(isIdle, successor.input);
      } catch (error) {
        throw attributeError(error, successor.uid, successor.subtask);
      }
    }
    if (this.allWriters.length === 0) return;
    const event = { kind: 'watermark-status', isIdle } as const;
    for (const writer of this.allWriters) writer.broadcastEvent(event);
  }
}
