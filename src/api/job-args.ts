import { z } from 'zod';
import { formatDuration, parseDuration } from '../core/duration.ts';

/**
 * zod helpers for job arguments. Command-line values arrive as strings; these parse them into the
 * types a job wants and explain what was expected when they can't.
 */

/** A duration (`500ms`, `10s`, `5m`, `1h`, `1h30m`, or plain milliseconds) ▶ milliseconds. */
export function durationArg(defaultValue?: string) {
  const schema = z
    .union([z.string(), z.number()])
    .transform((value, context) => {
      try {
        return parseDuration(value);
      } catch (error) {
        context.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
        return z.NEVER;
      }
    });
  return defaultValue === undefined ? schema : schema.prefault(defaultValue);
}

/** A positive duration. */
export function positiveDurationArg(defaultValue?: string) {
  return durationArg(defaultValue).refine((ms) => ms > 0, {
    error: (issue) => `must be > 0, got ${formatDuration(Number(issue.input))}`,
  });
}

/** A file or directory path (non-empty). */
export function pathArg() {
  return z.string().min(1, 'needs a path');
}

/** A whole number, given as a string or number. */
export function integerArg(defaultValue?: number) {
  const schema = z.coerce.number().int('must be a whole number');
  return defaultValue === undefined ? schema : schema.prefault(defaultValue);
}
