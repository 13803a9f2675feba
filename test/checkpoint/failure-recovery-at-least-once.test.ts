import { afterEach, describe, expect, it } from 'vitest';
import {
  FAIL_AFTER,
  FAIL_AFTER_CHECKPOINTS,
  RATE,
  TempDirs,
  committedLines,
  expectedLines,
  missingLines,
  observedRestart,
  runFailureRecoveryJob,
  withoutDuplicateCounts,
} from './fixtures/failure-recovery-harness.ts';

/**
 * The at-least-once variant of issue #3's failure test: the same job and failure with
 * `checkpointing: 'at-least-once'` (barriers not aligned). Records after a barrier may be in a snapshot
 * and be replayed after the restore, so windows may count them twice and a window fired before the
 * checkpoint may fire again with the replayed part. Nothing may be lost: every window and bucket of
 * the failure-free output is committed with the same set of records — its distinct count and sum,
 * min, max (and, for timers, the previous bucket) — whatever its duplicate-counting fields say.
 */

const temps = new TempDirs();
afterEach(() => temps.removeAll());

describe('failure recovery, at-least-once (issue #3)', () => {
  it.each([
    { parallelism: 1, workers: 0, where: 'in-process' },
    { parallelism: 2, workers: 0, where: 'in-process' },
    { parallelism: 1, workers: 2, where: 'on 2 worker threads' },
    { parallelism: 2, workers: 2, where: 'on 2 worker threads' },
  ])('parallelism $parallelism, $where: restarts once and loses nothing', async ({ parallelism, workers }) => {
    const outputDir = temps.create('eddy-fr-alo-out-');
    const { log } = await runFailureRecoveryJob({
      mode: 'at-least-once',
      parallelism,
      workers,
      outputDir,
      checkpointDir: temps.create('eddy-fr-alo-chk-'),
      ratePerSecond: RATE,
      isFailing: true,
    });
    const restart = observedRestart(log);
    expect(restart.recordsBeforeFailure).toBeGreaterThanOrEqual(FAIL_AFTER);
    expect(restart.checkpointsBeforeFailure.length).toBeGreaterThanOrEqual(FAIL_AFTER_CHECKPOINTS);
    expect(restart.restoredCheckpointId).toBeGreaterThanOrEqual(Math.max(...restart.checkpointsBeforeFailure));
    const committed = committedLines(outputDir);
    // The model output equals the failure-free run (checked in failure-recovery.test.ts).
    const expected = expectedLines();
    expect(missingLines(expected.map(withoutDuplicateCounts), committed.map(withoutDuplicateCounts))).toEqual([]);
    expect(committed.length).toBeGreaterThanOrEqual(expected.length);
  });
});
