/**
 * Time in Eddy is integer epoch milliseconds (event time and processing time alike), held in a JS
 * number. Every timestamp and watermark is a safe integer in [MIN_WATERMARK, MAX_WATERMARK], except
 * {@link NO_TIMESTAMP} (NaN), which marks a record that carries no event time.
 */

/** The watermark before any input has been seen. Flink's Long.MIN_VALUE. */
export const MIN_WATERMARK = Number.MIN_SAFE_INTEGER;
/** The watermark at end of input: every event-time timer and window fires. Flink's Long.MAX_VALUE. */
export const MAX_WATERMARK = Number.MAX_SAFE_INTEGER;
/** The timestamp of a record without event time. Test with `Number.isNaN(ts)` (or `ts !== ts`). */
export const NO_TIMESTAMP = Number.NaN;

/** A source of processing time, injectable so that tests control it. */
export interface Clock {
  /** Current processing time, epoch milliseconds. */
  now(): number;
}

/** The wall clock (`Date.now()`), used outside tests. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; for tests and the synchronous test driver. */
export class ManualClock implements Clock {
  private timeMs: number;

  constructor(startMs = 0) {
    this.timeMs = startMs;
  }

  now(): number {
    return this.timeMs;
  }

  set(timeMs: number): void {
    this.timeMs = timeMs;
  }

  advance(deltaMs: number): void {
    this.timeMs += deltaMs;
  }
}

/** Adds a duration to a timestamp without passing MAX_WATERMARK (Flink's saturating cleanup-time sum). */
export function saturatingAdd(timestampMs: number, durationMs: number): number {
  const sum = timestampMs + durationMs;
  if (sum > MAX_WATERMARK) return MAX_WATERMARK;
  if (sum < MIN_WATERMARK) return MIN_WATERMARK;
  return sum;
}
