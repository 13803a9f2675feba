import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wordCountReference } from '../jobs/reference-models.ts';
import { BIN, hasStackTrace, makeTempDir, parseSummary, readOutputLines, removeDir, ROOT, spawnEddy, spawnNode } from './cli-test-kit.ts';

/**
 * The real `eddy` binary in a child process (`node src/cli/bin.js`): tsx registration, exit codes,
 * what goes to stdout and what to stderr, and the README's demo command.
 */
let dir: string;
beforeAll(() => {
  dir = makeTempDir('cli-binary');
});
afterAll(() => removeDir(dir));

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };

describe('node src/cli/bin.js', () => {
  it('--help: usage on stdout, exit code 0', async () => {
    const run = await spawnEddy(['--help']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('eddy run <job> [engine options] [job options]');
  });

  it('--version: the version of package.json', async () => {
    expect(await spawnEddy(['--version'])).toEqual({ exitCode: 0, stdout: `eddy ${pkg.version}\n`, stderr: '' });
  });

  it('bad usage: one sentence on stderr, nothing on stdout, exit code 2', async () => {
    const noJob = await spawnEddy(['run']);
    expect(noJob).toEqual({ exitCode: 2, stdout: '', stderr: "eddy: 'eddy run' needs a job: eddy run <job file or name> [options]; see 'eddy run --help'\n" });
    const unknownOption = await spawnEddy(['run', 'wordcount', '--input', 'a', '--output', 'b', '--foo', '1']);
    expect(unknownOption.exitCode).toBe(2);
    expect(unknownOption.stderr).toBe("eddy: unknown option --foo for job 'wordcount'\nsee 'eddy run wordcount --help'\n");
    const reserved = await spawnEddy(['run', 'wordcount', '--from-savepoint', path.join(dir, 'savepoint')]);
    expect(reserved.exitCode).toBe(2);
    expect(reserved.stderr).toContain('which this version of Eddy does not provide yet');
  });

  it('a bad record fails the job with exit code 1 and a sentence naming file, line and field', async () => {
    const input = path.join(dir, 'bad.jsonl');
    writeFileSync(input, `${JSON.stringify({ sensor: 'a', ts: 1, value: 1 })}\n${JSON.stringify({ sensor: 'a', ts: 2, value: 'x' })}\n`);
    const run = await spawnEddy(['run', 'moving-average', '--input', input, '--output', path.join(dir, 'bad-out.jsonl'), '--workers', '1']);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`eddy: bad input record: ${input}:2: schema mismatch: field 'value'`);
    expect(hasStackTrace(run.stderr)).toBe(false);
  });

  it('runs a bundled job by name from any working directory', async () => {
    const input = path.join(dir, 'words.txt');
    writeFileSync(input, 'Zebra apple\nzebra\n');
    const output = path.join(dir, 'words.csv');
    const run = await spawnEddy(['run', 'wordcount', '--input', input, '--output', output, '--quiet'], { cwd: dir });
    expect(run).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    expect(readOutputLines(output)).toEqual(['apple,1', 'zebra,2']);
  });
});

describe("the README's demo (npm run demo)", () => {
  it('is the documented command', () => {
    expect(pkg.scripts['demo']).toMatch(
      /^node src\/cli\/bin\.js run jobs\/wordcount\.ts --input jobs\/data\/sample\.txt --output \/tmp\/eddy-demo\/wordcount\.csv( |$)/,
    );
  });

  it('counts the words of jobs/data/sample.txt in a spawned process', async () => {
    const output = path.join(dir, 'eddy-demo', 'wordcount.csv');
    // The demo script's command, writing to a temp dir instead of /tmp/eddy-demo.
    const command = pkg.scripts['demo']!.split(' && ')[0]!.replace('/tmp/eddy-demo/wordcount.csv', output);
    const [node, ...args] = command.split(' ');
    expect(node).toBe('node');
    expect(args[0]).toBe('src/cli/bin.js');
    const run = await spawnNode([path.join(ROOT, args[0]!), ...args.slice(1)], { cwd: ROOT });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toBe('');

    const counts = readOutputLines(output);
    expect(counts).toEqual(wordCountReference(readFileSync(path.join(ROOT, 'jobs/data/sample.txt'), 'utf8')));
    expect(counts).toEqual(expect.arrayContaining(['the,4', 'café,3', 'fox,2', 'dog,2', 'été,1', '2024,1', 'naïve,1']));
    const summary = parseSummary(run.stderr);
    expect(summary.get('lines')).toMatchObject({ recordsIn: 3, recordsOut: 3 });
    expect(summary.get('word-counts')).toMatchObject({ recordsIn: counts.length, recordsOut: counts.length });
  });

  it('bin.js is what package.json publishes as `eddy`', () => {
    const bin = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
    expect(path.resolve(ROOT, bin['eddy']!)).toBe(BIN);
  });
});
