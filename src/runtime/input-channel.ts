import type { ChannelMessage } from './stream-element.ts';
import { RecordBatch } from './stream-element.ts';

/**
 * The receiving end of one channel: a FIFO of batches and events. It holds at most as many batches as
 * the producer has credits, because the producer sends a batch only against a credit and the consumer
 * returns the credit only after it has processed that batch. Events take no credit.
 */
export class InputChannel {
  private queue: ChannelMessage[] = [];
  private head = 0;
  private queuedBatches = 0;
  /** The most batches ever queued at once: bounded by the credits (a test counter). */
  maxQueuedBatches = 0;
  /** Called when a message arrives; the task wakes up. */
  onData: () => void = noop;

  constructor(
    readonly channelId: number,
    /** Returns `credits` credits to the producer. */
    private readonly returnCredits: (credits: number) => void,
  ) {}

  enqueue(message: ChannelMessage): void {
    this.queue.push(message);
    if (message instanceof RecordBatch) {
      this.queuedBatches++;
      if (this.queuedBatches > this.maxQueuedBatches) this.maxQueuedBatches = this.queuedBatches;
    }
    this.onData();
  }

  get hasData(): boolean {
    return this.head < this.queue.length;
  }

  /** The next message without taking it, or undefined. */
  peek(): ChannelMessage | undefined {
    return this.head < this.queue.length ? this.queue[this.head] : undefined;
  }

  /** The next message, or undefined. Call {@link releaseBatch} once a polled batch is processed. */
  poll(): ChannelMessage | undefined {
    if (this.head >= this.queue.length) return undefined;
    const message = this.queue[this.head]!;
    this.queue[this.head] = undefined as unknown as ChannelMessage;
    this.head++;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 256) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return message;
  }

  /** The batch polled last is processed: its credit goes back to the producer. */
  releaseBatch(): void {
    this.queuedBatches--;
    this.returnCredits(1);
  }
}

function noop(): void {}
