import type { ChannelEvent, ChannelMessage } from './stream-element.ts';
import { ACTIVE_STATUS, IDLE_STATUS, isStatusAnnouncement, RecordBatch } from './stream-element.ts';

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
 *
 * The first message on every channel announces the producer's status (active or idle, or the end of
 * input): consumers hold back records until every input channel has announced, so that a channel
 * whose producer will stay idle (a source subtask without splits) never holds the watermark back
 * while records from other channels are judged late or not. That makes lateness decided by the
 * records alone, the same at every parallelism.
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

  private hasAnnouncedStatus = false;

  /** Sends the producer's status as this channel's first message, unless something announced it already. */
  announceStatus(isIdle: boolean): void {
    if (this.hasAnnouncedStatus) return;
    this.sendEvent(isIdle ? IDLE_STATUS : ACTIVE_STATUS);
  }

  /** Before the first message that is not itself an announcement, announce "active". */
  private ensureAnnounced(first: ChannelMessage): void {
    this.hasAnnouncedStatus = true;
    if (!isStatusAnnouncement(first)) this.sendEvent(ACTIVE_STATUS);
  }

  /** Sends `batch` now if a credit allows, else queues it. Returns the serialized bytes (0 if queued or local). */
  sendRecords(batch: RecordBatch): number {
    if (!this.hasAnnouncedStatus) this.ensureAnnounced(batch);
    if (this.pending.length === 0 && this.credits > 0) {
      this.credits--;
      this.batchesSent++;
      return this.sender.sendRecords(batch);
    }
    this.pending.push(batch);
    return 0;
  }

  sendEvent(event: ChannelEvent): void {
    if (!this.hasAnnouncedStatus) this.ensureAnnounced(event);
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
