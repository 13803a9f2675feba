import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, progressLines, removeDir, runCli, writeJsonLines } from './cli-test-kit.ts';

/**
 * CLI messages that README/STYLE promise: defaults in help, `--progress-interval 0`, engine option
 * errors that name the option and echo the value, and Eddy's own errors (a missing input file) not
 * reported as user-function crashes. Each test failed before its fix.
 */
let dir: string;
let input: string;
beforeAll(() => {
  dir = makeTempDir('cli-pending');
  input = path.join(dir, 'readings.jsonl');
  writeJsonLines(input, [{ sensor: 'a', ts: Date.UTC(2026, 0, 1), value: 1 }]);
});
afterAll(() => removeDir(dir));

describe('eddy run <job> --help', () => {
  it('shows the defaults of duration options (durationArg / positiveDurationArg use zod prefault)', async () => {
    const run = await runCli(['run', 'moving-average', '--help']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^  --size +window size \(default: 1h\)$/m);
    expect(run.stdout).toMatch(/^  --slide +.*\(default: 10m\)$/m);
    expect(run.stdout).toMatch(/^  --out-of-orderness +.*\(default: 5m\)$/m);
    expect(run.stdout).toMatch(/^  --allowed-lateness +.*\(default: 10m\)$/m);
    expect(run.stdout).toMatch(/^  --late-output +.*\(optional\)$/m);
  });
});

describe('--progress-interval 0', () => {
  it('means "never print progress" (README, --help), not a usage error', async () => {
    const output = path.join(dir, 'no-progress.jsonl');
    const run = await runCli(['run', 'moving-average', '--input', input, '--output', output, '--workers', '0', '--progress-interval', '0']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(progressLines(run.stderr)).toEqual([]);
    expect(run.stderr).toContain("job 'moving-average' finished in ");
    expect(existsSync(output)).toBe(true);
  });
});

describe('messages name the rule and the value given (STYLE.md: "window size must be > 0, got -5s")', () => {
  const base = (): string[] => ['run', 'moving-average', '--input', input, '--output', path.join(dir, 'never.jsonl')];

  it('--parallelism 0', async () => {
    const run = await runCli([...base(), '--parallelism', '0']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe("eddy: --parallelism must be ≥ 1, got 0\n");
  });

  it('--parallelism above --max-parallelism names both options', async () => {
    const run = await runCli([...base(), '--parallelism', '8', '--max-parallelism', '4']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe('eddy: --parallelism must be ≤ --max-parallelism (4), got 8\n');
  });

  it('--workers abc', async () => {
    const run = await runCli([...base(), '--workers', 'abc']);
    expect(run.stderr).toBe("eddy: --workers must be a whole number, got 'abc'\n");
  });

  it('--slide 0', async () => {
    const run = await runCli([...base(), '--slide', '0']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('--slide: must be > 0, got 0ms');
  });
});

describe('a missing input file', () => {
  it('is reported as what it is, not as an exception of a user function', async () => {
    const missing = path.join(dir, 'no-such-input.txt');
    const run = await runCli(['run', 'wordcount', '--input', missing, '--output', path.join(dir, 'out.csv'), '--workers', '0']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe(`eddy: input file '${missing}' does not exist\n`);
  });
});
