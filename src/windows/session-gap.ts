import { EddyError } from '../core/errors.ts';

/** Extracts a per-element session gap in milliseconds (> 0), for dynamic-gap session windows. */
export type SessionGapExtractor<T> = (element: T) => number;

/** Checks a gap returned by a user's extractor, per element. */
export function checkDynamicGap(gapMs: number): number {
  if (!(gapMs > 0) || !Number.isInteger(gapMs)) {
    throw new EddyError(
      `the session gap extractor returned ${gapMs}: a dynamic session gap must be a whole number of milliseconds > 0`,
      { domain: 'user' },
    );
  }
  return gapMs;
}
