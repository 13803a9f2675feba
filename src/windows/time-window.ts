import type { NamespaceCodec } from '../state/keyed-state-backend.ts';
import { EddyError } from '../core/errors.ts';
import type { Window } from './window.ts';

/**
 * A window over the half-open interval `[start, end)` of epoch milliseconds: it holds timestamps
 * `start ≤ ts < end`, so `maxTimestamp = end − 1`. Immutable; equal bounds mean the same window.
 */
export class TimeWindow implements Window {
  readonly start: number;
  readonly end: number;

  constructor(start: number, end: number) {
    this.start = start;
    this.end = end;
  }

  maxTimestamp(): number {
    return this.end - 1;
  }

  /**
   * Flink's rule: true when the windows overlap *or touch* (`[0,5)` and `[5,10)` intersect), which is
   * what makes two sessions whose gap is exactly closed merge.
   */
  intersects(other: TimeWindow): boolean {
    return this.start <= other.end && this.end >= other.start;
  }

  /** The smallest window containing both. */
  cover(other: TimeWindow): TimeWindow {
    return new TimeWindow(Math.min(this.start, other.start), Math.max(this.end, other.end));
  }

  equals(other: TimeWindow): boolean {
    return this.start === other.start && this.end === other.end;
  }

  toString(): string {
    return `TimeWindow[${this.start}, ${this.end})`;
  }
}

/**
 * The start of the aligned window of length `windowSizeMs` (shifted by `offsetMs`) that contains
 * `timestampMs`: the largest `start ≤ ts` with `start ≡ offset (mod size)`.
 *
 * Flink's formula `ts − (ts − offset + size) % size` is only right while `ts − offset + size ≥ 0`:
 * Java's `%`, like JS's, takes the sign of the dividend (truncating division), so for timestamps
 * more than one window before the epoch it yields a start *after* ts. Newer Flink corrects the
 * negative remainder; so do we, with a floored modulo, which is right for every sign.
 */
export function getWindowStartWithOffset(timestampMs: number, offsetMs: number, windowSizeMs: number): number {
  const remainder = (timestampMs - offsetMs) % windowSizeMs;
  return remainder < 0 ? timestampMs - (remainder + windowSizeMs) : timestampMs - remainder;
}

/**
 * Merges overlapping (or touching) windows, Flink's `TimeWindow.mergeWindows`: sorts by start, sweeps,
 * and calls `callback(toBeMerged, mergeResult)` once per group of ≥ 2 windows. O(n log n).
 */
export function mergeTimeWindows(
  windows: readonly TimeWindow[],
  callback: (toBeMerged: readonly TimeWindow[], mergeResult: TimeWindow) => void,
): void {
  const sorted = windows.slice().sort((a, b) => a.start - b.start || a.end - b.end);
  let current: TimeWindow | undefined;
  let group: TimeWindow[] = [];
  for (const candidate of sorted) {
    if (current === undefined) {
      current = candidate;
      group = [candidate];
    } else if (current.intersects(candidate)) {
      current = current.cover(candidate);
      group.push(candidate);
    } else {
      if (group.length > 1) callback(group, current);
      current = candidate;
      group = [candidate];
    }
  }
  if (current !== undefined && group.length > 1) callback(group, current);
}

/** Ids are `"start:end"`, unique per bounds; snapshots hold `[start, end]`. */
export const timeWindowCodec: NamespaceCodec<TimeWindow> = {
  idOf: (window) => `${window.start}:${window.end}`,
  toPlain: (window) => [window.start, window.end],
  fromPlain: (plain) => {
    if (!Array.isArray(plain) || plain.length !== 2 || typeof plain[0] !== 'number' || typeof plain[1] !== 'number') {
      throw new EddyError(`a time window in a snapshot must be [start, end], got ${JSON.stringify(plain)}`);
    }
    return new TimeWindow(plain[0], plain[1]);
  },
};
