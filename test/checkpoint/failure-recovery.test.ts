import { afterEach, describe, expect, it } from 'vitest';
import {
  FAIL_AFTER,
  FAIL_AFTER_CHECKPOINTS,
  RATE,
  TempDirs,
  committedLines,
  expectedLines,
  observedRestart,
  runFailureRecoveryJob,
} from './fixtures/failure-recovery-harness.ts';

/**
 * Issue #3's acceptance test, after Flink's failure tests: keyed event-time windows (tumbling, sliding,
 * session) and a keyed process function with event-time timers and keyed state, over a seeded, paced
 * generator of out-of-order events. On attempt 1 the process function throws once at least two
 * checkpoints completed; the fixed-delay strategy restarts the job from the latest completed checkpoint,
 * and the exactly-once file sink's committed output must equal the failure-free run exactly.
 */

const temps = new TempDirs();
afterEach(() => temps.removeAll());

/** The failure-free run's committed output, computed once (and checked against the model). */
let golden: string[] | undefined;
async function goldenLines(): Promise<string[]> {
  if (golden === undefined) {
    const outputDir = temps.create('eddy-fr-golden-out-');
    const { log } = await runFailureRecoveryJob({
      mode: 'exactly-once',
      parallelism: 2,
      workers: 0,
      outputDir,
      checkpointDir: temps.create('eddy-fr-golden-chk-'),
      isFailing: false,
    });
    expect(log.filter((line) => line.startsWith('restarting'))).toEqual([]);
    golden = committedLines(outputDir);
  }
  return golden;
}

describe('failure recovery, exactly-once (issue #3)', () => {
  it('the failure-free run commits exactly the model output of all four branches', async () => {
    const lines = await goldenLines();
    expect(lines).toEqual(expectedLines());
    const branches = new Set(lines.map((line) => (JSON.parse(line) as { branch: string }).branch));
    expect([...branches].sort()).toEqual(['session', 'sliding', 'timer', 'tumbling']);
  });

  it.each([
    { parallelism: 1, workers: 0, where: 'in-process' },
    { parallelism: 2, workers: 0, where: 'in-process' },
    { parallelism: 1, workers: 2, where: 'on 2 worker threads' },
    { parallelism: 2, workers: 2, where: 'on 2 worker threads' },
  ])('parallelism $parallelism, $where: restarts once and commits the failure-free output exactly', async ({ parallelism, workers }) => {
    const expected = await goldenLines();
    const outputDir = temps.create('eddy-fr-out-');
    const { log } = await runFailureRecoveryJob({
      mode: 'exactly-once',
      parallelism,
      workers,
      outputDir,
      checkpointDir: temps.create('eddy-fr-chk-'),
      ratePerSecond: RATE,
      isFailing: true,
    });
    const restart = observedRestart(log);
    expect(restart.recordsBeforeFailure).toBeGreaterThanOrEqual(FAIL_AFTER);
    expect(restart.checkpointsBeforeFailure.length).toBeGreaterThanOrEqual(FAIL_AFTER_CHECKPOINTS);
    // Restored from a checkpoint at least as new as every one completed before the failure.
    expect(restart.restoredCheckpointId).toBeGreaterThanOrEqual(Math.max(...restart.checkpointsBeforeFailure));
    expect(committedLines(outputDir)).toEqual(expected);
  });
});
