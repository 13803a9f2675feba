import { ConfigurationError } from '../core/errors.ts';
import type { Clock } from '../core/time.ts';
import type { KeyedStateBackend, NamespaceCodec, TimerQueue } from '../state/keyed-state-backend.ts';
import type { InternalTimerService, Triggerable } from './timer-service.ts';

/** What a {@link KeyedTimerService} needs: where its timers are stored and whom to call when they fire. */
export interface KeyedTimerServiceOptions<N> {
  /** Names the two timer queues in the backend (and so in snapshots): `${name}/event-time`, `${name}/processing-time`. */
  readonly name: string;
  readonly backend: KeyedStateBackend;
  readonly namespaceCodec: NamespaceCodec<N>;
  readonly triggerable: Triggerable<N>;
  readonly clock: Clock;
  /** Schedules a callback on the task's mailbox at processing time `timeMs`; returns a cancel function. */
  readonly scheduleProcessingTime: (timeMs: number, callback: (timeMs: number) => void) => () => void;
  readonly currentWatermark: () => number;
}

/**
 * Flink's InternalTimerServiceImpl over the backend's timer queues. Timers belong to the backend's
 * current key; they live in keyed state, so they are snapshotted and restored with it (and move with
 * their key group on rescaling).
 *
 * Invariants:
 * - Event-time timers fire in `advanceWatermark`, in queue order (timestamp, key group, backend tie order),
 *   each with the backend's current key set to the timer's key; a timer registered while firing fires
 *   in the same call when its timestamp ≤ the watermark.
 * - At most one processing-time callback is scheduled, for the earliest processing-time timer (or
 *   earlier, if that timer was deleted: the callback then fires nothing and schedules the next). When
 *   it runs it fires every processing-time timer ≤ max(scheduled time, clock), in order.
 * Cost: register/delete O(log n) plus, for processing time, a reschedule when the head changes.
 */
export class KeyedTimerService<N> implements InternalTimerService<N> {
  private readonly backend: KeyedStateBackend;
  private readonly triggerable: Triggerable<N>;
  private readonly clock: Clock;
  private readonly scheduleProcessingTime: KeyedTimerServiceOptions<N>['scheduleProcessingTime'];
  private readonly readWatermark: () => number;
  private readonly eventTimeQueue: TimerQueue<N>;
  private readonly processingTimeQueue: TimerQueue<N>;
  /** Time of the scheduled processing-time callback, +∞ when none is scheduled. */
  private scheduledAtMs = Number.POSITIVE_INFINITY;
  private cancelScheduled: (() => void) | undefined = undefined;
  private isFiringProcessingTimers = false;
  private readonly onProcessingTimeCallback: (timeMs: number) => void;

  constructor(options: KeyedTimerServiceOptions<N>) {
    this.backend = options.backend;
    this.triggerable = options.triggerable;
    this.clock = options.clock;
    this.scheduleProcessingTime = options.scheduleProcessingTime;
    this.readWatermark = options.currentWatermark;
    this.eventTimeQueue = options.backend.getTimerQueue(`${options.name}/event-time`, options.namespaceCodec);
    this.processingTimeQueue = options.backend.getTimerQueue(`${options.name}/processing-time`, options.namespaceCodec);
    this.onProcessingTimeCallback = (timeMs) => this.onProcessingTime(timeMs);
    this.scheduleNextProcessingTimer();
  }

  get size(): number {
    return this.eventTimeQueue.size + this.processingTimeQueue.size;
  }

  currentProcessingTime(): number {
    return this.clock.now();
  }

  currentWatermark(): number {
    return this.readWatermark();
  }

  registerEventTimeTimer(namespace: N, timestampMs: number): void {
    checkTimestamp(timestampMs);
    this.eventTimeQueue.add(timestampMs, namespace);
  }

  deleteEventTimeTimer(namespace: N, timestampMs: number): void {
    this.eventTimeQueue.remove(timestampMs, namespace);
  }

  registerProcessingTimeTimer(namespace: N, timestampMs: number): void {
    checkTimestamp(timestampMs);
    if (this.processingTimeQueue.add(timestampMs, namespace) && timestampMs < this.scheduledAtMs) {
      // While firing, the loop picks up due timers and schedules the next one when it ends.
      if (!this.isFiringProcessingTimers) this.schedule(timestampMs);
    }
  }

  deleteProcessingTimeTimer(namespace: N, timestampMs: number): void {
    this.processingTimeQueue.remove(timestampMs, namespace);
  }

  advanceWatermark(watermarkMs: number): void {
    const queue = this.eventTimeQueue;
    for (let timer = queue.peek(); timer !== undefined && timer.timestamp <= watermarkMs; timer = queue.peek()) {
      queue.poll();
      this.backend.setCurrentKeyWithGroup(timer.key, timer.keyGroup);
      this.triggerable.onEventTime(timer);
    }
  }

  /** Cancels the scheduled processing-time callback (the operator is closing). Timers stay registered. */
  dispose(): void {
    this.cancelScheduled?.();
    this.cancelScheduled = undefined;
    this.scheduledAtMs = Number.POSITIVE_INFINITY;
  }

  private onProcessingTime(scheduledMs: number): void {
    this.cancelScheduled = undefined;
    this.scheduledAtMs = Number.POSITIVE_INFINITY;
    const nowMs = Math.max(scheduledMs, this.clock.now());
    const queue = this.processingTimeQueue;
    this.isFiringProcessingTimers = true;
    try {
      for (let timer = queue.peek(); timer !== undefined && timer.timestamp <= nowMs; timer = queue.peek()) {
        queue.poll();
        this.backend.setCurrentKeyWithGroup(timer.key, timer.keyGroup);
        this.triggerable.onProcessingTime(timer);
      }
    } finally {
      this.isFiringProcessingTimers = false;
    }
    this.scheduleNextProcessingTimer();
  }

  private scheduleNextProcessingTimer(): void {
    const head = this.processingTimeQueue.peek();
    if (head !== undefined && head.timestamp < this.scheduledAtMs) this.schedule(head.timestamp);
  }

  private schedule(timeMs: number): void {
    this.cancelScheduled?.();
    this.scheduledAtMs = timeMs;
    this.cancelScheduled = this.scheduleProcessingTime(timeMs, this.onProcessingTimeCallback);
  }
}

function checkTimestamp(timestampMs: number): void {
  if (!Number.isSafeInteger(timestampMs)) {
    throw new ConfigurationError(`a timer's timestamp must be a whole number of epoch milliseconds, got ${timestampMs}`);
  }
}
