import { UserFunctionError, EddyError } from '../core/errors.ts';
import type { OutputChannel } from './output-channel.ts';
import type { Partitioner } from './partitioner.ts';
import { RecordBatch, type ChannelEvent } from './stream-element.ts';

/**
 * Bounds on one batch: at most `batchSize` records and, for remote channels, about `maxBatchBytes`
 * serialized.
 */
export interface BatchLimits {
  /** Most records per batch. */
  readonly batchSize: number;
  /** Target serialized bytes per batch (remote channels); the record limit adapts to it. */
  readonly maxBatchBytes: number;
}

/** Records per batch unless configured. */
export const DEFAULT_BATCH_SIZE = 1_000;
/** Target serialized bytes per batch unless configured (64 KiB). */
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024;

/**
 * Writes the records of one network edge of one producer subtask: partitions each record and appends
 * it to the buffer of its channel; a full buffer is sent as one batch. Buffers are also flushed before
 * every event (events are in-band and must not overtake records) and on the task's buffer timeout.
 *
 * The byte bound is enforced after the fact, without measuring records: when a serialized batch is
 * larger than `maxBatchBytes`, that channel's record limit shrinks proportionally; when batches are
 * small it grows back up to `batchSize`. Per record: one partitioner call and two array writes.
 */
export class RecordWriter {
  private readonly buffers: ChannelBuffer[];
  private readonly isBroadcast: boolean;

  constructor(
    private readonly partitioner: Partitioner,
    readonly channels: readonly OutputChannel[],
    private readonly limits: BatchLimits,
    /** uid and subtask of the consuming operator, to attribute key-selector failures. */
    private readonly targetUid: string,
    private readonly subtask: number,
  ) {
    this.buffers = channels.map(() => new ChannelBuffer(limits.batchSize));
    this.isBroadcast = partitioner.isBroadcast;
  }

  emit(value: unknown, timestampMs: number): void {
    if (this.isBroadcast) {
      for (let channel = 0; channel < this.buffers.length; channel++) this.append(channel, value, timestampMs);
      return;
    }
    let channel: number;
    try {
      channel = this.partitioner.selectChannel(value);
    } catch (error) {
      if (error instanceof EddyError) throw error;
      throw new UserFunctionError(this.targetUid, this.subtask, error);
    }
    this.append(channel, value, timestampMs);
  }

  private append(channel: number, value: unknown, timestampMs: number): void {
    const buffer = this.buffers[channel]!;
    buffer.values.push(value);
    buffer.timestamps[buffer.count] = timestampMs;
    if (++buffer.count >= buffer.limit) this.flushChannel(channel);
  }

  /** Flushes every buffer, then sends `event` on every channel. */
  broadcastEvent(event: ChannelEvent): void {
    this.flush();
    for (const channel of this.channels) channel.sendEvent(event);
  }

  flush(): void {
    for (let channel = 0; channel < this.buffers.length; channel++) {
      if (this.buffers[channel]!.count > 0) this.flushChannel(channel);
    }
  }

  get hasBufferedRecords(): boolean {
    for (const buffer of this.buffers) if (buffer.count > 0) return true;
    return false;
  }

  private flushChannel(channel: number): void {
    const buffer = this.buffers[channel]!;
    const count = buffer.count;
    const batch = new RecordBatch(buffer.values, buffer.timestamps, count);
    buffer.reset(this.limits.batchSize);
    const bytes = this.channels[channel]!.sendRecords(batch);
    if (bytes > this.limits.maxBatchBytes) {
      buffer.limit = Math.max(1, Math.floor((count * this.limits.maxBatchBytes) / bytes));
    } else if (bytes > 0 && buffer.limit < this.limits.batchSize && bytes * 2 < this.limits.maxBatchBytes) {
      buffer.limit = Math.min(this.limits.batchSize, buffer.limit * 2);
    }
  }
}

class ChannelBuffer {
  values: unknown[] = [];
  timestamps: Float64Array;
  count = 0;
  limit: number;

  constructor(batchSize: number) {
    this.timestamps = new Float64Array(batchSize);
    this.limit = batchSize;
  }

  /** A sent batch keeps its arrays; the buffer starts fresh ones (one allocation per batch, not per record). */
  reset(batchSize: number): void {
    this.values = [];
    this.timestamps = new Float64Array(batchSize);
    this.count = 0;
  }
}
