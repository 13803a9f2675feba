import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractEngineOptions, RESERVED_ENGINE_OPTIONS } from '../../src/cli/engine-options.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { FIXTURES, hasStackTrace, makeTempDir, readOutputLines, removeDir, ROOT, runCli } from './cli-test-kit.ts';

/**
 * `eddy` usage and bad command lines, in-process through `main(argv, io)`: exit code 0 for success and
 * help, 2 for bad usage (with one sentence on stderr, never a stack trace, nothing on stdout).
 */
let dir: string;
let sample: string;
beforeAll(() => {
  dir = makeTempDir('cli-usage');
  sample = path.join(dir, 'sample.txt');
  writeFileSync(sample, 'b a\nA c a\n');
});
afterAll(() => removeDir(dir));

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

async function expectUsageError(args: readonly string[]): Promise<string> {
  const run = await runCli(args);
  expect(run.exitCode, run.stderr).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^eddy: /);
  expect(hasStackTrace(run.stderr)).toBe(false);
  return run.stderr;
}

describe('eddy --help and --version', () => {
  it.each([[['--help']], [['-h']], [['help']], [[]]])('%j prints the usage and exits 0', async (args) => {
    const run = await runCli(args);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('eddy run <job> [engine options] [job options]');
    expect(run.stdout).toContain('eddy run <job> --help');
    expect(run.stdout).toContain('wordcount, moving-average, pattern-alert, sessionize, correlate');
  });

  it('--version prints the version of package.json', async () => {
    const run = await runCli(['--version']);
    expect(run).toEqual({ exitCode: 0, stdout: `eddy ${VERSION}\n`, stderr: '' });
  });

  it('eddy run --help lists the engine options', async () => {
    const run = await runCli(['run', '--help']);
    expect(run.exitCode).toBe(0);
    for (const name of ['parallelism', 'max-parallelism', 'workers', 'on-bad-record', 'progress-interval', 'buffer-timeout', 'quiet']) {
      expect(run.stdout).toMatch(new RegExp(`^  --${name} .*\\(default: .+\\)$`, 'm'));
    }
  });
});

describe('eddy run <job> --help', () => {
  it("lists the job's options (required / optional) and the engine options with their defaults", async () => {
    const run = await runCli(['run', 'wordcount', '--help']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe('');
    const help = run.stdout;
    expect(help).toContain('Usage: eddy run wordcount [engine options] [job options]');
    expect(help).toContain('Counts the words of a text file');
    expect(help).toContain('Job options (wordcount):');
    expect(help).toMatch(/^  --input +text file \(or directory of text files\) to count \(required\)$/m);
    expect(help).toMatch(/^  --output +.*\(required\)$/m);
    expect(help).toContain('Engine options:');
    expect(help).toMatch(/^  --parallelism +.*\(default: number of cores\)$/m);
    expect(help).toMatch(/^  --max-parallelism +.*\(default: 128\)$/m);
    expect(help).toMatch(/^  --on-bad-record +.*fail \| skip \| dead-letter=<file> \(default: fail\)$/m);
    expect(help).toMatch(/^  --progress-interval +.*\(default: 5s\)$/m);
    // The job options come before the engine options.
    expect(help.indexOf('--input')).toBeLessThan(help.indexOf('Engine options:'));
  });

  it('marks optional job options of a bundled job with optional ones', async () => {
    const run = await runCli(['run', 'moving-average', '--help']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^  --late-output +.*\(optional\)$/m);
    expect(run.stdout).toMatch(/^  --allowed-lateness +how long after a window ends/m);
  });

  it('works with a job given by path', async () => {
    const run = await runCli(['run', path.join(ROOT, 'jobs/sessionize.ts'), '--help']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('Job options (sessionize):');
    expect(run.stdout).toMatch(/^  --gap /m);
  });
});

describe('choosing the job', () => {
  it('runs a bundled job by name and the same job by path with the same output', async () => {
    const byName = path.join(dir, 'by-name.csv');
    const byPath = path.join(dir, 'by-path.csv');
    const first = await runCli(['run', 'wordcount', '--input', sample, '--output', byName, '--workers', '0', '--quiet']);
    const second = await runCli(['run', path.join(ROOT, 'jobs/wordcount.ts'), '--input', sample, '--output', byPath, '--workers', '0', '--quiet']);
    expect(first).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    expect(second).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    expect(readOutputLines(byName)).toEqual(['a,3', 'b,1', 'c,1']);
    expect(readOutputLines(byPath)).toEqual(['a,3', 'b,1', 'c,1']);
  });

  it('eddy run without a job says what is missing', async () => {
    const stderr = await expectUsageError(['run']);
    expect(stderr).toBe("eddy: 'eddy run' needs a job: eddy run <job file or name> [options]; see 'eddy run --help'\n");
  });

  it('rejects an unknown command', async () => {
    const stderr = await expectUsageError(['frobnicate']);
    expect(stderr).toBe("eddy: unknown command 'frobnicate'; see 'eddy --help'\n");
  });

  it.each(['./no/such-job.ts', 'no-such-job', '/no/such/dir/missing.ts'])('reports a missing job %s', async (reference) => {
    const stderr = await expectUsageError(['run', reference, '--input', sample, '--output', path.join(dir, 'x')]);
    expect(stderr).toContain(`job '${reference}' not found`);
    expect(stderr).toContain('give the path of a job module');
  });

  it('names the path and the error of a module that throws on import', async () => {
    const modulePath = path.join(FIXTURES, 'throwing-job.ts');
    const stderr = await expectUsageError(['run', modulePath]);
    expect(stderr).toBe(`eddy: job module ${modulePath} failed to load: fixture: the job module refuses to load\n`);
  });

  it('names the path of a module without a `job` export and says how to write one', async () => {
    const modulePath = path.join(FIXTURES, 'no-job-export.ts');
    const stderr = await expectUsageError(['run', modulePath]);
    expect(stderr).toContain(`job module ${modulePath} has no 'job' export`);
    expect(stderr).toContain('export const job = defineJob(');
  });

  it('rejects a second positional argument', async () => {
    const stderr = await expectUsageError(['run', 'wordcount', 'extra']);
    expect(stderr).toContain("unexpected argument 'extra'");
  });
});

describe('job options', () => {
  const output = (): string => path.join(dir, `never-written-${Math.random().toString(36).slice(2)}.csv`);

  it('rejects an unknown option, naming it and the job', async () => {
    const target = output();
    const stderr = await expectUsageError(['run', 'wordcount', '--input', sample, '--output', target, '--foo', '1']);
    expect(stderr).toBe("eddy: unknown option --foo for job 'wordcount'\nsee 'eddy run wordcount --help'\n");
    expect(existsSync(target)).toBe(false);
  });

  it('names every unknown option in kebab-case', async () => {
    const stderr = await expectUsageError(['run', 'wordcount', '--input', sample, '--output', output(), '--foo-bar', 'x', '--baz']);
    expect(stderr).toContain("unknown option --foo-bar for job 'wordcount'");
    expect(stderr).toContain("unknown option --baz for job 'wordcount'");
  });

  it('says which required option is missing', async () => {
    const stderr = await expectUsageError(['run', 'wordcount', '--output', output()]);
    expect(stderr).toBe("eddy: --input: is required\nsee 'eddy run wordcount --help'\n");
  });

  it('rejects a bad duration with a sentence naming the option and the value', async () => {
    const stderr = await expectUsageError(['run', 'pattern-alert', '--input', sample, '--output', output(), '--within', '5x']);
    expect(stderr).toContain('--within: ');
    expect(stderr).toContain("'5x' is not a duration");
    expect(stderr).toContain('500ms, 10s, 5m, 1h');
  });

  it('rejects an option given twice and a short flag', async () => {
    expect(await expectUsageError(['run', 'wordcount', '--input', sample, '--input', sample])).toContain('option --input is given twice');
    expect(await expectUsageError(['run', 'wordcount', '-x'])).toContain("unknown flag '-x'");
  });
});

describe('engine options', () => {
  const base = (): string[] => ['run', 'wordcount', '--input', sample, '--output', path.join(dir, 'engine.csv')];

  it('rejects --parallelism 0', async () => {
    expect(await expectUsageError([...base(), '--parallelism', '0'])).toContain('--parallelism must be ≥ 1');
  });

  it.each(['abc', '1.5'])('rejects --parallelism %s', async (value) => {
    expect(await expectUsageError([...base(), '--parallelism', value])).toContain('--parallelism must be a whole number');
  });

  it('rejects --parallelism above --max-parallelism', async () => {
    expect(await expectUsageError([...base(), '--parallelism', '8', '--max-parallelism', '4'])).toMatch(/--parallelism must be ≤ .*\b4\b/);
  });

  it('rejects --max-parallelism 0 and --workers -1', async () => {
    expect(await expectUsageError([...base(), '--max-parallelism', '0'])).toContain('--max-parallelism must be ≥ 1');
    expect(await expectUsageError([...base(), '--workers', '-1'])).toContain('--workers must be ≥ 0');
  });

  it('rejects a bad --progress-interval duration', async () => {
    expect(await expectUsageError([...base(), '--progress-interval', '5x'])).toContain("'5x' is not a duration");
  });

  it.each([...RESERVED_ENGINE_OPTIONS])('rejects the reserved engine option --%s (%s) with a "not provided yet" sentence', async (name, capability) => {
    const stderr = await expectUsageError([...base(), `--${name}`, 'value']);
    expect(stderr).toBe(`eddy: --${name} is an engine option for ${capability}, which this version of Eddy does not provide yet\n`);
  });

  it('rejects a reserved engine option even as a bare flag', async () => {
    expect(await expectUsageError([...base(), '--allow-non-restored-state'])).toContain('does not provide yet');
  });

  it.each(['ignore', 'dead-letter=', 'deadletter=x.jsonl', 'SKIP'])('rejects --on-bad-record %s', async (value) => {
    const stderr = await expectUsageError([...base(), '--on-bad-record', value]);
    expect(stderr).toContain(`--on-bad-record must be fail, skip or dead-letter=<file>, got '${value}'`);
  });

  it('rejects --on-bad-record without a value', async () => {
    expect(await expectUsageError([...base(), '--on-bad-record'])).toBe('eddy: --on-bad-record needs a value\n');
  });

  it('parses the --on-bad-record policies and leaves the other options to the job', () => {
    const parse = (value: string) =>
      extractEngineOptions(
        new Map<string, string | true>([
          ['on-bad-record', value],
          ['input', 'in.txt'],
        ]),
      );
    expect(parse('fail').engine.onBadRecord).toBe('fail');
    expect(parse('skip').engine.onBadRecord).toBe('skip');
    expect(parse('dead-letter=/tmp/bad=records.jsonl').engine.onBadRecord).toEqual({ deadLetterPath: '/tmp/bad=records.jsonl' });
    expect([...parse('skip').jobOptions]).toEqual([['input', 'in.txt']]);
    expect(extractEngineOptions(new Map()).engine.onBadRecord).toBe('fail');
    expect(() => parse('drop')).toThrow(ConfigurationError);
  });

  it('parses durations and whole numbers of the engine options', () => {
    const { engine } = extractEngineOptions(
      new Map<string, string | true>([
        ['parallelism', '3'],
        ['max-parallelism', '16'],
        ['workers', '0'],
        ['progress-interval', '200ms'],
        ['buffer-timeout', '1s'],
        ['quiet', true],
      ]),
    );
    expect(engine).toEqual({
      parallelism: 3,
      maxParallelism: 16,
      workers: 0,
      onBadRecord: 'fail',
      progressIntervalMs: 200,
      bufferTimeoutMs: 1_000,
      isQuiet: true,
    });
  });
});

describe('invalid windows and strategies are rejected before the job starts', () => {
  async function expectRejected(job: string, args: readonly string[]): Promise<string> {
    const target = path.join(dir, `${job}-rejected.jsonl`);
    const stderr = await expectUsageError(['run', job, '--input', sample, '--output', target, '--workers', '0', ...args]);
    // The sink truncates its file when the job starts: no file means nothing ran.
    expect(existsSync(target)).toBe(false);
    return stderr;
  }

  it('moving-average --slide 0', async () => {
    expect(await expectRejected('moving-average', ['--slide', '0'])).toContain('--slide: must be > 0');
  });

  it('moving-average --slide 2h --size 1h names the rule and both values', async () => {
    const stderr = await expectRejected('moving-average', ['--slide', '2h', '--size', '1h']);
    expect(stderr).toContain('slide must be > 0 and ≤ size, got 2h for size 1h');
  });

  it('moving-average --size 0', async () => {
    expect(await expectRejected('moving-average', ['--size', '0'])).toContain('--size: must be > 0');
  });

  it('sessionize --gap 0', async () => {
    expect(await expectRejected('sessionize', ['--gap', '0'])).toContain('--gap: must be > 0');
  });

  it('pattern-alert --within 0', async () => {
    expect(await expectRejected('pattern-alert', ['--within', '0'])).toContain('--within: must be > 0');
  });
});
