import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobModuleRef } from '../../src/api/job.ts';
import { buildJobGraph } from '../../src/runtime/job-loader.ts';
import { executeJob } from '../../src/runtime/local-executor.ts';
import { expectedLines, type SinkFailure } from './fixtures/failing-sink-job.ts';
import { TempDirs, committedLines } from './fixtures/failure-recovery-harness.ts';
import { stateBackendExecutionOptions } from '../support/state-backend.ts';

/**
 * Issue #3, the failing sink: "a failing sink makes the job restore every operator and source from the
 * latest completed checkpoint and continue". A seeded, paced generator ▶ a keyed process function with
 * value state ▶ the exactly-once file sink behind a delegating sink whose subtask 0 fails once on
 * attempt 1, after at least two checkpoints completed — its writer's `write` throws, or a background
 * write rejects (seen through `waitUntilWritable`/`flush`). The fixed-delay strategy restarts the job
 * once, and the committed output must equal the failure-free run exactly.
 */

const modulePath = fileURLToPath(new URL('./fixtures/failing-sink-job.ts', import.meta.url));

/** With {@link RATE} a paced run lasts about two seconds: about 20 checkpoints every {@link INTERVAL_MS}. */
const COUNT = 6_000;
const SEED = 11;
const RATE = 3_000;
const INTERVAL_MS = 100;
/** Records sink subtask 0 writes on attempt 1 before it may fail. */
const FAIL_AFTER = 600;
const FAIL_AFTER_CHECKPOINTS = 2;

const temps = new TempDirs();
afterEach(() => temps.removeAll());

interface RunOptions {
  readonly parallelism: number;
  readonly outputDir: string;
  readonly checkpointDir: string;
  readonly ratePerSecond?: number;
  readonly failure?: SinkFailure;
}

async function runJob(options: RunOptions): Promise<readonly string[]> {
  const ref: JobModuleRef = {
    modulePath,
    exportName: 'job',
    rawArgs: {
      count: COUNT,
      seed: SEED,
      ratePerSecond: options.ratePerSecond,
      outputDir: options.outputDir,
      checkpointDir: options.checkpointDir,
      failure: options.failure,
      failAfter: FAIL_AFTER,
      failAfterCheckpoints: FAIL_AFTER_CHECKPOINTS,
    },
  };
  const graph = await buildJobGraph(ref, { jobName: 'failing-sink', parallelism: options.parallelism });
  const log: string[] = [];
  await executeJob(graph, {
    ...stateBackendExecutionOptions(),
    workers: 0,
    job: ref,
    log: (line) => log.push(line),
    checkpointing: {
      mode: 'exactly-once',
      dir: options.checkpointDir,
      intervalMs: INTERVAL_MS,
      restartStrategy: { kind: 'fixed-delay', attempts: 2, delayMs: 20 },
    },
  });
  return log;
}

/** The failure-free run's committed output, computed once (and checked against the model). */
let golden: string[] | undefined;
async function goldenLines(): Promise<string[]> {
  if (golden === undefined) {
    const outputDir = temps.create('eddy-fs-golden-out-');
    const log = await runJob({ parallelism: 2, outputDir, checkpointDir: temps.create('eddy-fs-golden-chk-') });
    expect(log.filter((line) => line.startsWith('restarting'))).toEqual([]);
    golden = committedLines(outputDir);
  }
  return golden;
}

interface ObservedRestart {
  readonly restoredCheckpointId: number;
  readonly recordsBeforeFailure: number;
  readonly checkpointsBeforeFailure: readonly number[];
}

/** The one restart of a failing run, caused by `failure`; throws (failing the test) otherwise. */
function observedRestart(log: readonly string[], failure: SinkFailure): ObservedRestart {
  const restarts = log.filter((line) => line.startsWith('restarting job'));
  if (restarts.length !== 1) throw new Error(`expected exactly one restart, got ${restarts.length}: ${JSON.stringify(log)}`);
  const cause = failure === 'write-throws' ? 'injected sink write failure' : 'injected sink background write failure';
  const pattern = new RegExp(
    `^restarting job from chk-(\\d{6}) \\(attempt 2\\) after: .*${cause} after (\\d+) records; completed checkpoints: \\[([\\d,]*)\\]`,
  );
  const match = pattern.exec(restarts[0]!);
  if (match === null) throw new Error(`unexpected restart line: ${restarts[0]}`);
  return {
    restoredCheckpointId: Number(match[1]),
    recordsBeforeFailure: Number(match[2]),
    checkpointsBeforeFailure: match[3]!.split(',').filter(Boolean).map(Number),
  };
}

describe('failing sink recovery, exactly-once (issue #3)', () => {
  it('the failure-free run commits exactly the model output', async () => {
    const lines = await goldenLines();
    expect(lines).toHaveLength(COUNT);
    expect(lines).toEqual(expectedLines(COUNT, SEED));
  });

  it.each([
    { failure: 'write-throws', parallelism: 1 },
    { failure: 'write-throws', parallelism: 2 },
    { failure: 'background-write-rejects', parallelism: 1 },
    { failure: 'background-write-rejects', parallelism: 2 },
  ] as const)('$failure, parallelism $parallelism, in-process: restarts once and commits the failure-free output exactly', async ({
    failure,
    parallelism,
  }) => {
    const expected = await goldenLines();
    const outputDir = temps.create('eddy-fs-out-');
    const log = await runJob({ parallelism, outputDir, checkpointDir: temps.create('eddy-fs-chk-'), ratePerSecond: RATE, failure });
    const restart = observedRestart(log, failure);
    expect(restart.recordsBeforeFailure).toBeGreaterThanOrEqual(FAIL_AFTER);
    expect(restart.checkpointsBeforeFailure.length).toBeGreaterThanOrEqual(FAIL_AFTER_CHECKPOINTS);
    // Restored from a checkpoint at least as new as every one completed before the failure.
    expect(restart.restoredCheckpointId).toBeGreaterThanOrEqual(Math.max(...restart.checkpointsBeforeFailure));
    expect(committedLines(outputDir)).toEqual(expected);
  });
});
