import { closeSync, openSync, writeSync } from 'node:fs';
import { BadRecordError, ConfigurationError } from '../core/errors.ts';
import type { OperatorMetrics } from '../operators/operator-metrics.ts';

/** What to do with a record a source cannot read: fail the job (default), skip it, or dead-letter it. */
export type BadRecordPolicy = 'fail' | 'skip' | { readonly deadLetterPath: string };

/**
 * Checks a policy from untrusted configuration; undefined means `fail`. Throws ConfigurationError for
 * anything else that is not `fail`, `skip` or `{ deadLetterPath }` with a non-empty path.
 */
export function validateBadRecordPolicy(policy: unknown): BadRecordPolicy {
  if (policy === undefined) return 'fail';
  if (policy === 'fail' || policy === 'skip') return policy;
  if (
    typeof policy === 'object' &&
    policy !== null &&
    typeof (policy as { deadLetterPath?: unknown }).deadLetterPath === 'string' &&
    (policy as { deadLetterPath: string }).deadLetterPath !== ''
  ) {
    return { deadLetterPath: (policy as { deadLetterPath: string }).deadLetterPath };
  }
  throw new ConfigurationError(
    `onBadRecord must be 'fail', 'skip' or { deadLetterPath: '<file>' }, got ${JSON.stringify(policy)}`,
  );
}

/**
 * Applies the bad-record policy for one source subtask. Nothing is lost silently: a skipped record is
 * counted in `badRecordsSkipped`; a dead-lettered one is appended to the file as a JSON line
 * `{location, error, raw}` and counted in `badRecordsDeadLettered`. Bad records are rare, so the
 * dead-letter file is written synchronously (O_APPEND: lines of several subtasks don't interleave).
 */
export class BadRecordHandler {
  private fd: number | undefined = undefined;

  constructor(
    private readonly policy: BadRecordPolicy,
    private readonly operatorUid: string,
    private readonly subtask: number,
    private readonly metrics: OperatorMetrics,
  ) {}

  handle(location: string, message: string, raw: string): void {
    if (this.policy === 'fail') {
      throw new BadRecordError(message, location, { operatorUid: this.operatorUid, subtask: this.subtask });
    }
    if (this.policy === 'skip') {
      this.metrics.badRecordsSkipped++;
      return;
    }
    if (this.fd === undefined) this.fd = openSync(this.policy.deadLetterPath, 'a');
    writeSync(this.fd, `${JSON.stringify({ location, error: message, raw })}\n`);
    this.metrics.badRecordsDeadLettered++;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
