import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, hasStackTrace, makeTempDir, parseSummary, readJsonLines, readOutputLines, removeDir, runCli } from './cli-test-kit.ts';

/**
 * Bad input records end to end through `eddy run`: a malformed JSON line, a line without `ts`, a
 * non-numeric `ts` and a record failing the job's zod schema. Default policy: the job fails (exit 1)
 * naming file, line and field. `skip`: the job succeeds without them and the summary counts them.
 * `dead-letter=<file>`: they are written there as `{location, error, raw}` and counted.
 */
let dir: string;
beforeAll(() => {
  dir = makeTempDir('cli-bad-records');
});
afterAll(() => removeDir(dir));

const BASE = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const GOOD = Array.from({ length: 40 }, (_, i) => JSON.stringify({ sensor: `s${i % 3}`, ts: BASE + i * MINUTE, value: i }));

/** The bad lines, each with what its error must name. */
const BAD = [
  { kind: 'malformed JSON', line: '{"sensor":"s1","ts":', names: 'invalid JSON' },
  { kind: 'missing ts', line: JSON.stringify({ sensor: 's1', value: 3 }), names: "field 'ts'" },
  { kind: 'non-numeric ts', line: JSON.stringify({ sensor: 's1', ts: 'yesterday', value: 3 }), names: "field 'ts'" },
  { kind: 'schema mismatch', line: JSON.stringify({ sensor: 's2', ts: BASE + 5 * MINUTE, value: 'high' }), names: "field 'value'" },
] as const;

/** Good lines with the bad ones interleaved: bad line i at 1-based line number 3 + 10·i. */
function dirtyInput(file: string): { readonly file: string; readonly badLineNumbers: number[] } {
  const lines = [...GOOD];
  const badLineNumbers: number[] = [];
  BAD.forEach((bad, i) => {
    lines.splice(2 + 10 * i, 0, bad.line);
    badLineNumbers.push(3 + 10 * i);
  });
  writeFileSync(file, `${lines.join('\n')}\n`);
  return { file, badLineNumbers };
}

const movingAverage = (input: string, output: string, ...engine: string[]): string[] => [
  'run',
  'moving-average',
  '--input',
  input,
  '--output',
  output,
  ...engine,
];

describe('moving-average over bad records', () => {
  let clean: string;
  let cleanOutput: string;
  beforeAll(async () => {
    clean = path.join(dir, 'clean.jsonl');
    writeFileSync(clean, `${GOOD.join('\n')}\n`);
    cleanOutput = path.join(dir, 'clean-output.jsonl');
    const run = await runCli(movingAverage(clean, cleanOutput, '--workers', '0', '--parallelism', '2', '--quiet'));
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readOutputLines(cleanOutput).length).toBeGreaterThan(0);
  });

  it.each(BAD)('by default fails on $kind with exit code 1, naming file, line and field', async (bad) => {
    const input = path.join(dir, `one-bad-${bad.kind.replaceAll(' ', '-')}.jsonl`);
    writeFileSync(input, `${[GOOD[0], GOOD[1], bad.line, ...GOOD.slice(2)].join('\n')}\n`);
    const run = await runCli(movingAverage(input, path.join(dir, 'failed.jsonl'), '--workers', '0', '--parallelism', '1'));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`eddy: bad input record: ${input}:3: `);
    expect(run.stderr).toContain(bad.names);
    expect(run.stderr).toContain('--on-bad-record skip');
    expect(hasStackTrace(run.stderr)).toBe(false);
  });

  it('fails on worker threads too, with the same message', async () => {
    const { file } = dirtyInput(path.join(dir, 'dirty-workers.jsonl'));
    const run = await runCli(movingAverage(file, path.join(dir, 'failed-workers.jsonl'), '--workers', '2', '--parallelism', '2'));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`eddy: bad input record: ${escape(file)}:3: invalid JSON`));
  });

  it.each([
    { workers: 0, parallelism: 1 },
    { workers: 0, parallelism: 3 },
    { workers: 2, parallelism: 2 },
  ])('with --on-bad-record skip succeeds without them and counts them (workers $workers, parallelism $parallelism)', async (run) => {
    const { file } = dirtyInput(path.join(dir, `dirty-skip-${run.workers}-${run.parallelism}.jsonl`));
    const output = path.join(dir, `skip-${run.workers}-${run.parallelism}.jsonl`);
    const result = await runCli(
      movingAverage(file, output, '--workers', String(run.workers), '--parallelism', String(run.parallelism), '--on-bad-record', 'skip'),
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(readOutputLines(output).sort()).toEqual(readOutputLines(cleanOutput).sort());
    const source = parseSummary(result.stderr).get('readings')!;
    expect(source).toMatchObject({ recordsIn: GOOD.length + BAD.length, recordsOut: GOOD.length, badSkipped: BAD.length, badDeadLettered: 0 });
  });

  it('with --on-bad-record dead-letter=<file> writes them there as {location, error, raw} and counts them', async () => {
    const { file, badLineNumbers } = dirtyInput(path.join(dir, 'dirty-dead-letter.jsonl'));
    const output = path.join(dir, 'dead-letter-output.jsonl');
    const deadLetters = path.join(dir, 'dead-letters.jsonl');
    const result = await runCli(movingAverage(file, output, '--workers', '0', '--parallelism', '2', `--on-bad-record=dead-letter=${deadLetters}`));
    expect(result.exitCode, result.stderr).toBe(0);
    expect(readOutputLines(output).sort()).toEqual(readOutputLines(cleanOutput).sort());

    const letters = readJsonLines<{ location: string; error: string; raw: string }>(deadLetters);
    expect(letters.map((letter) => Object.keys(letter).sort())).toEqual(BAD.map(() => ['error', 'location', 'raw']));
    const byLocation = new Map(letters.map((letter) => [letter.location, letter]));
    BAD.forEach((bad, i) => {
      const letter = byLocation.get(`${file}:${badLineNumbers[i]}`);
      expect(letter, `dead letter for ${bad.kind}`).toBeDefined();
      expect(letter!.raw).toBe(bad.line);
      expect(letter!.error).toContain(bad.names);
    });
    const source = parseSummary(result.stderr).get('readings')!;
    expect(source).toMatchObject({ badSkipped: 0, badDeadLettered: BAD.length, recordsOut: GOOD.length });
  });

  it('dead-letters from several worker threads into one file without losing a line', async () => {
    const inputs = path.join(dir, 'dirty-dir');
    mkdirSync(inputs);
    const files = [0, 1, 2].map((i) => dirtyInput(path.join(inputs, `part-${i}.jsonl`)).file);
    const deadLetters = path.join(dir, 'dead-letters-workers.jsonl');
    const result = await runCli(
      movingAverage(inputs, path.join(dir, 'workers-output.jsonl'), '--workers', '3', '--parallelism', '3', '--on-bad-record', `dead-letter=${deadLetters}`),
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const locations = readJsonLines<{ location: string }>(deadLetters).map((letter) => letter.location).sort();
    expect(locations).toEqual(files.flatMap((file) => [3, 13, 23, 33].map((line) => `${file}:${line}`)).sort());
    expect(parseSummary(result.stderr).get('readings')!.badDeadLettered).toBe(3 * BAD.length);
  });
});

describe('timestamps checked by the source (a job without a schema)', () => {
  const job = path.join(FIXTURES, 'timestamped-events-job.ts');
  const lines = [
    JSON.stringify({ id: 1, ts: 1_000 }),
    JSON.stringify({ id: 2 }),
    JSON.stringify({ id: 3, ts: 'soon' }),
    JSON.stringify({ id: 4, ts: 2.5 }),
    JSON.stringify({ id: 5, ts: 4_000 }),
  ];
  let input: string;
  beforeAll(() => {
    input = path.join(dir, 'events.jsonl');
    writeFileSync(input, `${lines.join('\n')}\n`);
  });

  it('fails on a missing timestamp, naming file and line', async () => {
    const run = await runCli(['run', job, '--input', input, '--output', path.join(dir, 'events-failed.jsonl'), '--workers', '0']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`eddy: bad input record: ${input}:2: timestamp must be an integer epoch-ms, got undefined`);
  });

  it('dead-letters missing, non-numeric and fractional timestamps and keeps the rest', async () => {
    const output = path.join(dir, 'events-output.jsonl');
    const deadLetters = path.join(dir, 'events-dead.jsonl');
    const run = await runCli(['run', job, '--input', input, '--output', output, '--workers', '0', '--on-bad-record', `dead-letter=${deadLetters}`]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readJsonLines<{ id: number }>(output).map((event) => event.id)).toEqual([1, 5]);
    expect(readJsonLines(deadLetters)).toEqual([
      { location: `${input}:2`, error: 'timestamp must be an integer epoch-ms, got undefined', raw: lines[1] },
      { location: `${input}:3`, error: 'timestamp must be an integer epoch-ms, got "soon"', raw: lines[2] },
      { location: `${input}:4`, error: 'timestamp must be an integer epoch-ms, got 2.5', raw: lines[3] },
    ]);
    expect(parseSummary(run.stderr).get('events')).toMatchObject({ recordsIn: 5, recordsOut: 2, badDeadLettered: 3 });
  });

  it('skips them with --on-bad-record skip', async () => {
    const output = path.join(dir, 'events-skipped.jsonl');
    const run = await runCli(['run', job, '--input', input, '--output', output, '--workers', '0', '--on-bad-record', 'skip']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readJsonLines<{ id: number }>(output).map((event) => event.id)).toEqual([1, 5]);
    expect(parseSummary(run.stderr).get('events')).toMatchObject({ badSkipped: 3, badDeadLettered: 0 });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
