import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobModuleRef } from '../../src/api/job.ts';
import { UserFunctionError } from '../../src/core/errors.ts';
import { buildJobGraph } from '../../src/runtime/job-loader.ts';
import { executeJob, type ExecutionOptions } from '../../src/runtime/local-executor.ts';
import type { Reading } from './fixtures/checkpointing-job.ts';
import { stateBackendExecutionOptions } from '../support/state-backend.ts';

const modulePath = fileURLToPath(new URL('./fixtures/checkpointing-job.ts', import.meta.url));
const COUNT = 12_000;
/** Records per second over all splits: the job runs about one second, long enough for checkpoints. */
const RATE = 12_000;

const temps: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Every committed (published) line of the sink's part files, sorted: in-progress files start with '.'. */
function committedLines(outputDir: string): string[] {
  return readdirSync(outputDir)
    .filter((name) => name.startsWith('part-'))
    .flatMap((name) => readFileSync(join(outputDir, name), 'utf8').split('\n').filter(Boolean))
    .sort();
}

interface RunOptions {
  readonly parallelism: number;
  readonly workers: number;
  readonly outputDir: string;
  readonly checkpointDir: string;
  readonly failAt?: number;
  readonly failMarker?: string;
  readonly failBy?: 'throw' | 'exit';
  readonly execution?: Partial<ExecutionOptions>;
  readonly restart?: NonNullable<ExecutionOptions['checkpointing']>['restartStrategy'];
}

async function run(options: RunOptions): Promise<{ log: string[] }> {
  const ref: JobModuleRef = {
    modulePath,
    exportName: 'job',
    rawArgs: { count: COUNT, ratePerSecond: RATE, outputDir: options.outputDir, failAt: options.failAt, failMarker: options.failMarker, failBy: options.failBy },
  };
  const graph = await buildJobGraph(ref, { jobName: 'checkpointed-windows', parallelism: options.parallelism });
  const log: string[] = [];
  await executeJob(graph, {
    ...stateBackendExecutionOptions(),
    workers: options.workers,
    job: ref,
    log: (line) => log.push(line),
    checkpointing: {
      mode: 'exactly-once',
      dir: options.checkpointDir,
      intervalMs: 25,
      restartStrategy: options.restart ?? { kind: 'fixed-delay', attempts: 2, delayMs: 0 },
    },
    ...options.execution,
  });
  return { log };
}

/** The failure-free output, computed once: the reference every recovery must reproduce exactly. */
let reference: string[] | undefined;
async function referenceOutput(): Promise<string[]> {
  if (reference === undefined) {
    const outputDir = tempDir('eddy-chk-ref-out-');
    await run({ parallelism: 2, workers: 0, outputDir, checkpointDir: tempDir('eddy-chk-ref-') });
    reference = committedLines(outputDir);
  }
  return reference;
}

function totals(lines: readonly string[]): { count: number; sum: number } {
  let count = 0;
  let sum = 0;
  for (const line of lines) {
    const row = JSON.parse(line) as Reading;
    count += row.count;
    sum += row.n;
  }
  return { count, sum };
}

describe('checkpointing end to end', () => {
  it('a failure-free run commits every window exactly once, through the final checkpoint', async () => {
    const lines = await referenceOutput();
    expect(totals(lines)).toEqual({ count: COUNT, sum: (COUNT * (COUNT - 1)) / 2 });
  });

  it('in-process: restarts from the latest completed checkpoint and commits exactly the failure-free output', async () => {
    const expected = await referenceOutput();
    const outputDir = tempDir('eddy-chk-out-');
    const checkpointDir = tempDir('eddy-chk-');
    const failMarker = join(tempDir('eddy-chk-marker-'), 'failed');
    const { log } = await run({ parallelism: 2, workers: 0, outputDir, checkpointDir, failAt: 7_000, failMarker });
    expect(existsSync(failMarker)).toBe(true);
    const restart = log.find((line) => line.startsWith('restarting job from'));
    expect(restart).toMatch(/^restarting job from chk-\d{6} \(attempt 2\) after: .*injected failure at record 7000/);
    expect(committedLines(outputDir)).toEqual(expected);
  });

  it('on worker threads: the same recovery gives the same output', async () => {
    const expected = await referenceOutput();
    const outputDir = tempDir('eddy-chk-out-');
    const failMarker = join(tempDir('eddy-chk-marker-'), 'failed');
    const { log } = await run({ parallelism: 2, workers: 2, outputDir, checkpointDir: tempDir('eddy-chk-'), failAt: 7_000, failMarker });
    expect(log.some((line) => /^restarting job from chk-\d{6} \(attempt 2\)/.test(line))).toBe(true);
    expect(committedLines(outputDir)).toEqual(expected);
  });

  it('on worker threads: a worker thread that exits is restarted from the latest checkpoint too', async () => {
    const expected = await referenceOutput();
    const outputDir = tempDir('eddy-chk-out-');
    const failMarker = join(tempDir('eddy-chk-marker-'), 'failed');
    const { log } = await run({
      parallelism: 2,
      workers: 2,
      outputDir,
      checkpointDir: tempDir('eddy-chk-'),
      failAt: 7_000,
      failMarker,
      failBy: 'exit',
    });
    expect(log.some((line) => /^restarting job from chk-\d{6} \(attempt 2\) after: .*exited unexpectedly with code 3/.test(line))).toBe(true);
    expect(committedLines(outputDir)).toEqual(expected);
  });

  it('without a restart strategy the job fails; --from-checkpoint then resumes it at another parallelism', async () => {
    const expected = await referenceOutput();
    const outputDir = tempDir('eddy-chk-out-');
    const checkpointDir = tempDir('eddy-chk-');
    const failMarker = join(tempDir('eddy-chk-marker-'), 'failed');
    await expect(
      run({ parallelism: 2, workers: 0, outputDir, checkpointDir, failAt: 7_000, failMarker, restart: { kind: 'none' } }),
    ).rejects.toBeInstanceOf(UserFunctionError);
    expect(readdirSync(checkpointDir).some((name) => /^chk-\d{6}$/.test(name))).toBe(true);
    expect(committedLines(outputDir).length).toBeLessThan(expected.length);
    await run({ parallelism: 3, workers: 0, outputDir, checkpointDir, execution: { fromCheckpoint: checkpointDir } });
    expect(committedLines(outputDir)).toEqual(expected);
  });

  it('refuses a --from-checkpoint path that holds no checkpoint, naming the path', async () => {
    const checkpointDir = tempDir('eddy-chk-');
    await expect(
      run({
        parallelism: 1,
        workers: 0,
        outputDir: tempDir('eddy-chk-out-'),
        checkpointDir,
        execution: { fromCheckpoint: join(checkpointDir, 'chk-000001') },
      }),
    ).rejects.toThrow(/chk-000001/);
  });
});
