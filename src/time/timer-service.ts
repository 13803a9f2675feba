import type { Timer } from '../state/keyed-state-backend.ts';

/**
 * Timers as user functions see them: scoped to the current key. Registering the same timestamp twice
 * for a key is one timer. Event-time timers fire when the watermark reaches their timestamp
 * (timestamp ≤ watermark); processing-time timers when the clock does.
 */
export interface TimerService {
  currentProcessingTime(): number;
  currentWatermark(): number;
  registerEventTimeTimer(timestampMs: number): void;
  registerProcessingTimeTimer(timestampMs: number): void;
  deleteEventTimeTimer(timestampMs: number): void;
  deleteProcessingTimeTimer(timestampMs: number): void;
}

/** Timers per (current key, namespace), as operators (windows, process functions) use them. */
export interface InternalTimerService<N> {
  currentProcessingTime(): number;
  currentWatermark(): number;
  registerEventTimeTimer(namespace: N, timestampMs: number): void;
  deleteEventTimeTimer(namespace: N, timestampMs: number): void;
  registerProcessingTimeTimer(namespace: N, timestampMs: number): void;
  deleteProcessingTimeTimer(namespace: N, timestampMs: number): void;
  /**
   * Sets the watermark and fires, in timestamp order, every event-time timer with timestamp ≤
   * `watermarkMs`, setting the backend's current key to each timer's key before calling back.
   * Timers registered by a callback for a timestamp ≤ the watermark fire in the same call.
   */
  advanceWatermark(watermarkMs: number): void;
  /** Number of timers registered (both domains), for tests and metrics. */
  readonly size: number;
}

/** The operator side of an {@link InternalTimerService}: what to do when a timer fires. */
export interface Triggerable<N> {
  onEventTime(timer: Timer<N>): void;
  onProcessingTime(timer: Timer<N>): void;
}
