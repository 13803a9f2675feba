import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, makeTempDir, parseSummary, progressLines, readJsonLines, readOutputLines, removeDir, runCli, writeJsonLines } from './cli-test-kit.ts';

/** What `eddy run` reports while it runs (progress lines) and when it ends (the per-operator summary). */
let dir: string;
beforeAll(() => {
  dir = makeTempDir('cli-progress');
});
afterAll(() => removeDir(dir));

const BASE = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

describe('progress lines', () => {
  it('--progress-interval 200ms prints progress (records in/out, rate, watermark) during a longer run', async () => {
    // 150,000 readings take well over a second in-process (about 100,000 records/s), so several
    // 200 ms periods pass while the job runs.
    const input = path.join(dir, 'many-readings.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 150_000; i++) lines.push(JSON.stringify({ sensor: `s${i % 50}`, ts: BASE + i * 1_000, value: i % 97 }));
    writeFileSync(input, `${lines.join('\n')}\n`);
    const output = path.join(dir, 'many-averages.jsonl');
    const run = await runCli(['run', 'moving-average', '--input', input, '--output', output, '--workers', '0', '--parallelism', '2', '--progress-interval', '200ms']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    const progress = progressLines(run.stderr);
    expect(progress.length, run.stderr).toBeGreaterThanOrEqual(1);
    // The records read only grow; some line shows records read before the end.
    const counts = progress.map((line) => Number(/ · in ([\d,]+) /.exec(line)![1]!.replaceAll(',', '')));
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(counts.every((count) => count <= 150_000)).toBe(true);

    const summary = parseSummary(run.stderr);
    expect(summary.get('readings')).toMatchObject({ parallelism: 2, recordsIn: 150_000, recordsOut: 150_000, badSkipped: 0 });
    const averages = summary.get('moving-average')!;
    expect(averages.recordsIn).toBe(150_000);
    expect(summary.get('averages')).toMatchObject({ parallelism: 1, recordsIn: averages.recordsOut });
    expect(readOutputLines(output).length).toBe(averages.recordsOut);
    // The summary comes after the last progress line.
    expect(run.stderr.lastIndexOf(progress[progress.length - 1]!)).toBeLessThan(run.stderr.indexOf("job 'moving-average' finished in "));
  });

  it('--quiet prints neither progress nor summary', async () => {
    const input = path.join(dir, 'few.jsonl');
    writeJsonLines(input, [{ sensor: 'a', ts: BASE, value: 1 }]);
    const run = await runCli(['run', 'moving-average', '--input', input, '--output', path.join(dir, 'few-out.jsonl'), '--workers', '0', '--progress-interval', '1ms', '--quiet']);
    expect(run).toEqual({ exitCode: 0, stdout: '', stderr: '' });
  });
});

describe('the end-of-run summary', () => {
  /**
   * Sensor `a` every minute for 20 hours, then one reading from long before: with --allowed-lateness 0
   * it is too late for every window it belongs to. File sources emit a watermark after every batch of
   * at most 1,000 lines, so the late reading comes after line 1,000.
   */
  const readings = [
    ...Array.from({ length: 1_200 }, (_, i) => ({ sensor: 'a', ts: BASE + 2 * 60 * MINUTE + i * MINUTE, value: 1 })),
    { sensor: 'a', ts: BASE + 5 * MINUTE, value: 100 },
    { sensor: 'b', ts: BASE + 30 * 60 * MINUTE, value: 2 },
  ];
  const args = (input: string, output: string): string[] => [
    'run',
    'moving-average',
    '--input',
    input,
    '--output',
    output,
    '--workers',
    '0',
    '--parallelism',
    '2',
    '--out-of-orderness',
    '0',
    '--allowed-lateness',
    '0',
  ];

  it('lists every operator with in/out and the late records sent to the side output', async () => {
    const input = path.join(dir, 'late.jsonl');
    writeJsonLines(input, readings);
    const lateOutput = path.join(dir, 'late-readings.jsonl');
    const run = await runCli([...args(input, path.join(dir, 'late-out.jsonl')), '--late-output', lateOutput]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^job 'moving-average' finished in \S+$/m);
    const summary = parseSummary(run.stderr);
    expect([...summary.keys()].sort()).toEqual(['averages', 'late-readings', 'moving-average', 'readings']);
    expect(summary.get('readings')).toMatchObject({ name: `Source: file(${input})`, recordsIn: 1_202, recordsOut: 1_202 });
    expect(summary.get('moving-average')).toMatchObject({ name: 'average per sensor', parallelism: 2, recordsIn: 1_202, lateDropped: 0, lateSideOutput: 1 });
    expect(summary.get('late-readings')).toMatchObject({ recordsIn: 1, recordsOut: 1 });
    expect(readJsonLines(lateOutput)).toEqual([{ sensor: 'a', ts: BASE + 5 * MINUTE, value: 100 }]);
  });

  it('counts side-output records that nothing reads (late readings without --late-output)', async () => {
    const input = path.join(dir, 'late-unread.jsonl');
    writeJsonLines(input, readings);
    const run = await runCli(args(input, path.join(dir, 'late-unread-out.jsonl')));
    expect(run.exitCode, run.stderr).toBe(0);
    const summary = parseSummary(run.stderr);
    expect(summary.get('moving-average')).toMatchObject({ lateSideOutput: 1, sideOutputUnread: 1 });
  });

  it('counts late records dropped by a window without a late-data side output', async () => {
    const input = path.join(dir, 'late-events.jsonl');
    const events = [
      ...Array.from({ length: 1_100 }, (_, i) => ({ key: `k${i % 3}`, ts: BASE + 10 * 60 * MINUTE + i * MINUTE })),
      { key: 'k1', ts: BASE },
      { key: 'k2', ts: BASE + MINUTE },
    ];
    writeJsonLines(input, events);
    const output = path.join(dir, 'late-events-counts.jsonl');
    const run = await runCli(['run', path.join(FIXTURES, 'hourly-count-job.ts'), '--input', input, '--output', output, '--workers', '0', '--parallelism', '2']);
    expect(run.exitCode, run.stderr).toBe(0);
    const summary = parseSummary(run.stderr);
    expect(summary.get('count-per-hour')).toMatchObject({ name: 'count per hour', recordsIn: 1_102, lateDropped: 2, lateSideOutput: 0 });
    // Every accepted event is in exactly one count.
    expect(readJsonLines<number>(output).reduce((sum, count) => sum + count, 0)).toBe(1_100);
  });
});
