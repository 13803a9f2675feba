import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { JobModuleRef } from '../../src/api/job.ts';
import { ConfigurationError, UserFunctionError } from '../../src/core/errors.ts';
import { buildJobGraph } from '../../src/runtime/job-loader.ts';
import { executeJob } from '../../src/runtime/local-executor.ts';

const modulePath = fileURLToPath(new URL('./fixtures/keyed-sum-job.ts', import.meta.url));

function readParts(directory: string): Array<{ key: string; n: number }> {
  return readdirSync(directory)
    .filter((name) => name.startsWith('part-'))
    .flatMap((name) => readFileSync(join(directory, name), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as { key: string; n: number });
}

/** Final sum per key (rolling sums of non-negative numbers: the maximum), and the number of updates. */
function summarize(rows: ReadonlyArray<{ key: string; n: number }>): { updates: number; finals: Record<string, number> } {
  const finals: Record<string, number> = {};
  for (const row of rows) finals[row.key] = Math.max(finals[row.key] ?? 0, row.n);
  return { updates: rows.length, finals };
}

async function run(parallelism: number, workers: number, exportName = 'job', extra: Record<string, unknown> = {}) {
  const outputDir = mkdtempSync(join(tmpdir(), 'eddy-workers-'));
  const ref: JobModuleRef = { modulePath, exportName, rawArgs: { count: 6_000, outputDir, ...extra } };
  const graph = await buildJobGraph(ref, { jobName: 'keyed-sum', parallelism });
  const result = await executeJob(graph, { workers, job: ref });
  return { result, output: summarize(readParts(outputDir)) };
}

describe('executeJob on worker threads', () => {
  it.each([1, 2, 4])('gives the same result as in-process at parallelism %i', async (parallelism) => {
    const inProcess = await run(parallelism, 0);
    const onWorkers = await run(parallelism, 2);
    expect(inProcess.output.updates).toBe(6_000);
    expect(Object.keys(inProcess.output.finals)).toHaveLength(17);
    expect(onWorkers.output).toEqual(inProcess.output);
    const sum = onWorkers.result.operators.find((o) => o.uid === 'sum')!;
    expect(sum.parallelism).toBe(parallelism);
    expect(sum.metrics.recordsIn).toBe(6_000);
  });

  it('fails the job with the uid of the operator that threw in a worker', async () => {
    const failure = run(2, 2, 'job', { failAt: 4_321 });
    await expect(failure).rejects.toBeInstanceOf(UserFunctionError);
    await expect(failure).rejects.toThrow(/operator 'check' \(subtask [01]\) threw: bad number 4321/);
  });

  it('detects a worker that built a different graph', async () => {
    const failure = run(1, 2, 'unstable');
    await expect(failure).rejects.toBeInstanceOf(ConfigurationError);
    await expect(failure).rejects.toThrow(/built a different graph .* building a job must be deterministic/);
  });
});
