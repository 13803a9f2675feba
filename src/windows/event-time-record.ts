import { ConfigurationError } from '../core/errors.ts';

/** Rejects a record without event time (NaN) reaching an event-time assigner. */
export function requireEventTime(timestampMs: number, assigner: string): number {
  if (timestampMs !== timestampMs) {
    throw new ConfigurationError(
      `${assigner}: record has no event time: set a timestamp assigner in the WatermarkStrategy or use processing-time windows`,
    );
  }
  return timestampMs;
}
