import type { Sink, SinkWriter } from '../connector/sink.ts';
import { OperatorBase } from './operator-base.ts';

const SINK_STATE = 'sink-writer';

/**
 * Runs a sink's writer in a subtask: records go to `write` synchronously; the writer's backpressure
 * reaches the task through `waitUntilReady`; `finishAsync` flushes at end of input; the writer's state
 * is operator list state (redistributed round-robin on rescale).
 */
export class SinkOperator<T> extends OperatorBase<never> {
  private writer!: SinkWriter<T>;
  private restoredWriterState: readonly unknown[] = [];

  constructor(private readonly sink: Sink<T>) {
    super(1, false);
  }

  override open(): void {
    this.writer = this.sink.createWriter({
      subtask: this.context.subtask,
      parallelism: this.context.parallelism,
      operatorUid: this.context.uid,
      checkpointingMode: this.context.checkpointing.mode,
      attempt: this.context.checkpointing.attempt,
    });
  }

  openAsync(): Promise<void> {
    return this.writer.open(this.restoredWriterState);
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    this.writer.write(value as T, timestampMs);
    this.metrics.recordsOut++;
  }

  waitUntilReady(): Promise<void> | undefined {
    return this.writer.waitUntilWritable();
  }

  finishAsync(): Promise<void> {
    return this.writer.flush(true);
  }

  override snapshotState(checkpointId: number) {
    return {
      keyed: undefined,
      operatorState: { [SINK_STATE]: this.writer.snapshotState(checkpointId) },
    };
  }

  protected override restoreOperatorState(state: Readonly<Record<string, readonly unknown[]>>): void {
    this.restoredWriterState = state[SINK_STATE] ?? [];
  }

  async closeAsync(): Promise<void> {
    await this.writer?.close();
  }
}
