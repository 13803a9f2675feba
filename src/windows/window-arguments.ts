import { ConfigurationError } from '../core/errors.ts';
import { formatDuration, parseDuration } from '../core/duration.ts';

/**
 * Validation of window and trigger arguments at graph-build time. Durations may be given as whole
 * milliseconds or as duration strings (`'5s'`); the messages name the rule, the value and the fix.
 */

/** Returns `ms`, or throws ConfigurationError naming `what` when it is ≤ 0. */
export function checkPositiveDuration(ms: number, what: string): number {
  if (ms <= 0) throw new ConfigurationError(`${what} must be > 0, got ${formatDuration(ms)}`);
  return ms;
}

/** A window size in ms (whole ms or a duration string); throws ConfigurationError unless > 0. */
export function windowSizeMs(size: number | string): number {
  return checkPositiveDuration(parseDuration(size, 'window size'), 'window size');
}

/** A window slide in ms; throws ConfigurationError unless 0 < slide ≤ `sizeMs`. */
export function slideMs(slide: number | string, sizeMs: number): number {
  const ms = parseDuration(slide, 'window slide');
  if (ms <= 0 || ms > sizeMs) {
    throw new ConfigurationError(
      `slide must be > 0 and ≤ size, got ${formatDuration(ms)} for size ${formatDuration(sizeMs)}: use a tumbling window when slide = size`,
    );
  }
  return ms;
}

/** The offset shifts window starts (time zones); |offset| must be below the alignment period. */
export function offsetMs(offset: number | string | undefined, periodMs: number, periodName: 'size' | 'slide'): number {
  if (offset === undefined) return 0;
  const ms = parseDuration(offset, 'window offset');
  if (Math.abs(ms) >= periodMs) {
    throw new ConfigurationError(
      `offset must satisfy |offset| < ${periodName}, got offset ${formatDuration(ms)} for ${periodName} ${formatDuration(periodMs)}`,
    );
  }
  return ms;
}

/** A session gap in ms; throws ConfigurationError unless > 0. */
export function sessionGapMs(gap: number | string): number {
  return checkPositiveDuration(parseDuration(gap, 'session gap'), 'session gap');
}
