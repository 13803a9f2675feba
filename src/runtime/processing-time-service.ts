import type { Clock } from '../core/time.ts';

interface ScheduledCallback {
  readonly timeMs: number;
  readonly sequence: number;
  readonly callback: (timeMs: number) => void;
  /** The operator that scheduled it, for error attribution. */
  readonly ownerUid: string;
  isCancelled: boolean;
}

/**
 * Processing-time callbacks of one task (operators' `scheduleProcessingTime`, the sources' periodic
 * watermark tick). Callbacks never run on their own: when one is due, the service wakes the task and
 * the task runs it from its mailbox, between batches, like any other work. Ordered by time, then by
 * scheduling order. Schedule / fire: O(log n).
 *
 * With an injected clock, "due" means `clock.now() ≥ timeMs`; a real timer (in wall-clock ms until
 * the due time by that clock) wakes the task to check.
 */
export class ProcessingTimeService {
  private readonly heap: ScheduledCallback[] = [];
  private sequence = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  private timerDueMs = Number.POSITIVE_INFINITY;
  private isDisposed = false;

  constructor(
    private readonly clock: Clock,
    /** Wakes the owning task. */
    private readonly wake: () => void,
  ) {}

  schedule(timeMs: number, callback: (timeMs: number) => void, ownerUid: string): () => void {
    const entry: ScheduledCallback = { timeMs, sequence: this.sequence++, callback, ownerUid, isCancelled: false };
    this.push(entry);
    this.arm();
    return () => {
      entry.isCancelled = true;
    };
  }

  get hasDue(): boolean {
    this.dropCancelled();
    const first = this.heap[0];
    return first !== undefined && first.timeMs <= this.clock.now();
  }

  /**
   * Runs every callback due now, in order (including ones they schedule for a time already passed).
   * `onError` receives the failure with the owner's uid; firing stops there.
   */
  fireDue(onError: (error: unknown, ownerUid: string) => void): void {
    const now = this.clock.now();
    for (;;) {
      this.dropCancelled();
      const first = this.heap[0];
      if (first === undefined || first.timeMs > now) break;
      this.pop();
      try {
        first.callback(first.timeMs);
      } catch (error) {
        onError(error, first.ownerUid);
        return;
      }
    }
    this.arm();
  }

  dispose(): void {
    this.isDisposed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.heap.length = 0;
  }

  private arm(): void {
    if (this.isDisposed) return;
    this.dropCancelled();
    const first = this.heap[0];
    if (first === undefined) return;
    if (this.timer !== undefined && this.timerDueMs <= first.timeMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDueMs = first.timeMs;
    const delayMs = Math.max(0, Math.min(first.timeMs - this.clock.now(), 2_147_483_647));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDueMs = Number.POSITIVE_INFINITY;
      this.wake();
      this.arm();
    }, delayMs);
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.isCancelled) this.pop();
  }

  private push(entry: ScheduledCallback): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!isBefore(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && isBefore(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && isBefore(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}

function isBefore(a: ScheduledCallback, b: ScheduledCallback): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.sequence < b.sequence);
}
