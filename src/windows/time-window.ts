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
 * The aligned windows of an element, remembered between calls: windows `[s, s + size)` for `s =
 * lastStart, lastStart − slide, …` while `s > ts − size` (latest start first), with `lastStart` the
 * start of the slide-aligned period containing `ts` (tumbling windows: slide = size, one window).
 * While consecutive elements fall into the same windows — nearly always, for input in time order —
 * it returns the same array of the same (immutable) windows, so assigning allocates nothing. Pure
 * memoization: the result always equals a fresh computation. Cost: O(windows per element).
 */
export class AlignedWindowsMemo {
  private lastStart = Number.NaN;
  private lastCount = 0;
  private windows: readonly TimeWindow[] = [];

  constructor(
    private readonly sizeMs: number,
    private readonly slideMs: number,
    private readonly offsetMs: number,
  ) {}

  assign(timestampMs: number): readonly TimeWindow[] {
    const { sizeMs, slideMs } = this;
    const lastStart = getWindowStartWithOffset(timestampMs, this.offsetMs, slideMs);
    const lowerBound = timestampMs - sizeMs;
    let count = 0;
    for (let start = lastStart; start > lowerBound; start -= slideMs) count++;
    if (lastStart !== this.lastStart || count !== this.lastCount) {
      const windows = new Array<TimeWindow>(count);
      for (let i = 0, start = lastStart; i < count; i++, start -= slideMs) windows[i] = new TimeWindow(start, start + sizeMs);
      this.lastStart = lastStart;
      this.lastCount = count;
      this.windows = windows;
    }
    return this.windows;
  }
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

function timeWindowToPlain(window: TimeWindow): unknown {
  return [window.start, window.end];
}

function timeWindowFromPlain(plain: unknown): TimeWindow {
  if (!Array.isArray(plain) || plain.length !== 2 || typeof plain[0] !== 'number' || typeof plain[1] !== 'number') {
    throw new EddyError(`a time window in a snapshot must be [start, end], got ${JSON.stringify(plain)}`);
  }
  return new TimeWindow(plain[0], plain[1]);
}

/** Ids are `"start:end"`, unique per bounds; snapshots hold `[start, end]`. */
export const timeWindowCodec: NamespaceCodec<TimeWindow> = {
  idOf: (window) => `${window.start}:${window.end}`,
  toPlain: timeWindowToPlain,
  fromPlain: timeWindowFromPlain,
};

/**
 * The codec of an assigner whose windows all last `sizeMs` (tumbling, sliding). Such a window's id is
 * its start — a number: no string is built per record and the state maps hash a number. A window of
 * another length (only from state restored after the size changed) gets `timeWindowCodec`'s string
 * id, which never equals a number, so ids stay unique per bounds. Snapshots are the same as
 * `timeWindowCodec`'s (`[start, end]`), so either codec restores the other's.
 */
export function fixedSizeTimeWindowCodec(sizeMs: number): NamespaceCodec<TimeWindow> {
  return {
    idOf: (window) => (window.end - window.start === sizeMs ? window.start : `${window.start}:${window.end}`),
    toPlain: timeWindowToPlain,
    fromPlain: timeWindowFromPlain,
  };
}
