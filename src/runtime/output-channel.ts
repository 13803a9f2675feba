import type { ChannelEvent, ChannelMessage } from './stream-element.ts';
import { RecordBatch } from './stream-element.ts';

/** Moves messages to the consumer: directly (same thread) or serialized over a MessagePort. */
export interface ChannelSender {
  /** Sends a batch; returns its serialized size in bytes (0 when not serialized). */
  sendRecords(batch: RecordBatch): number;
  sendEvent(event: ChannelEvent): void;
}

/** Credits per channel when not configured: buffers in flight from one producer to one consumer. */
export const DEFAULT_CHANNEL_CREDITS = 4;

/**
 * The sending end of one channel, credit-based: a batch leaves only against a credit, and the
 * consumer returns the credit once it has processed the batch, so at most `credits` batches are in
 * flight or queued at the consumer. Output that a task produces beyond that (one input batch can
 * produce many output batches) waits in `pending`; the task is not given more input until every
 * output channel is {@link isAvailable} again, so `pending` is bounded by the output of one step.
 * Events take no credit but keep their place in line behind pending batches.
 */
export class OutputChannel {
  private readonly pending: ChannelMessage[] = [];
  private credits: number;
  /** Called when the channel becomes available again; the task wakes up. */
  onAvailable: () => void = noop;
  /** Batches sent (a test and metrics counter). */
  batchesSent = 0;

  constructor(
    readonly channelId: number,
    initialCredits: number,
    private readonly sender: ChannelSender,
  ) {
    this.credits = initialCredits;
  }

  get isAvailable(): boolean {
    return this.credits > 0 && this.pending.length === 0;
  }

  get availableCredits(): number {
    return this.credits;
  }

  /** Sends `batch` now if a credit allows, else queues it. Returns the serialized bytes (0 if queued or local). */
  sendRecords(batch: RecordBatch): number {
    if (this.pending.length === 0 && this.credits > 0) {
      this.credits--;
      this.batchesSent++;
      return this.sender.sendRecords(batch);
    }
    this.pending.push(batch);
    return 0;
  }

  sendEvent(event: ChannelEvent): void {
    if (this.pending.length === 0) this.sender.sendEvent(event);
    else this.pending.push(event);
  }

  addCredits(credits: number): void {
    this.credits += credits;
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      if (next instanceof RecordBatch) {
        if (this.credits === 0) break;
        this.credits--;
        this.batchesSent++;
        this.pending.shift();
        this.sender.sendRecords(next);
      } else {
        this.pending.shift();
        this.sender.sendEvent(next);
      }
    }
    if (this.isAvailable) this.onAvailable();
  }
}

function noop(): void {}
