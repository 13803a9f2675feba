import { stateBackendCliArgs } from '../support/state-backend.ts';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  correlateReference,
  movingAverageReference,
  patternAlertReference,
  sessionizeReference,
  wordCountReference,
  type Activity,
  type OrderOrPayment,
  type PatternEvent,
  type Reading,
} from './reference-models.ts';
import { asMultiset, makeTempDir, readJsonLines, readOutputLines, removeDir, runCli, seededRandom, writeJsonLines } from './job-test-support.ts';

/**
 * Every bundled job, end to end through the CLI: generated input ▶ `eddy run` ▶ output files,
 * compared as multisets with an independent reference model, at parallelism 1, 2 and 4, in-process
 * (workers 0) and on worker threads.
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BASE = Date.UTC(2026, 0, 1);

let dir: string;
beforeAll(() => {
  dir = makeTempDir('jobs');
});
afterAll(() => removeDir(dir));

const RUNS = [
  { parallelism: 1, workers: 0 },
  { parallelism: 2, workers: 0 },
  { parallelism: 4, workers: 0 },
  { parallelism: 2, workers: 2 },
  { parallelism: 4, workers: 2 },
] as const;

async function runJob(job: string, args: Record<string, string>, run: { parallelism: number; workers: number }): Promise<void> {
  const argv = ['run', `jobs/${job}.ts`, '--parallelism', String(run.parallelism), '--workers', String(run.workers), '--quiet', ...stateBackendCliArgs()];
  for (const [name, value] of Object.entries(args)) argv.push(`--${name}`, value);
  const result = await runCli(argv);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
}

describe('wordcount', () => {
  it.each(RUNS)('counts words like the reference at parallelism $parallelism, workers $workers', async (run) => {
    const random = seededRandom(7);
    const vocabulary = ['Flink', 'kafka', 'Stream', 'état', 'naïve', 'café', 'x1', '42', 'ÉTÉ', 'the', 'a'];
    const lines: string[] = [];
    for (let i = 0; i < 3_500; i++) {
      const words: string[] = [];
      const n = Math.floor(random() * 8);
      for (let w = 0; w < n; w++) words.push(vocabulary[Math.floor(random() * vocabulary.length)]!);
      lines.push(words.join(random() < 0.5 ? ' ' : ', '));
    }
    const text = lines.join('\n');
    const input = path.join(dir, 'words.txt');
    writeFileSync(input, text);
    const output = path.join(dir, `wordcount-${run.parallelism}-${run.workers}.csv`);
    await runJob('wordcount', { input, output }, run);
    expect(readOutputLines(output)).toEqual(wordCountReference(text));
  });
});

function makeReadings(seed: number, count: number): Reading[] {
  const random = seededRandom(seed);
  const readings: Reading[] = [];
  let clock = BASE;
  for (let i = 0; i < count; i++) {
    clock += Math.floor(random() * 2_000);
    // Mostly in order; some within the out-of-orderness; some late within and beyond the allowed lateness.
    const roll = random();
    const delay = roll < 0.8 ? 0 : roll < 0.93 ? random() * 5 * MINUTE : roll < 0.98 ? 5 * MINUTE + random() * 60 * MINUTE : HOUR + random() * 2 * HOUR;
    readings.push({ sensor: `s${Math.floor(random() * 7)}`, ts: Math.floor(clock - delay), value: Math.round(random() * 1000) / 10 });
  }
  return readings;
}

describe('moving-average', () => {
  const readings = makeReadings(11, 12_000);
  const expected = movingAverageReference(readings, {
    sizeMs: HOUR,
    slideMs: 10 * MINUTE,
    outOfOrdernessMs: 5 * MINUTE,
    allowedLatenessMs: 10 * MINUTE,
  });

  it('has test data that exercises late firings and late output', () => {
    expect(expected.averages.some((a) => a.late)).toBe(true);
    expect(expected.late.length).toBeGreaterThan(0);
  });

  it.each(RUNS)('matches the reference model at parallelism $parallelism, workers $workers', async (run) => {
    const input = path.join(dir, 'readings.jsonl');
    writeJsonLines(input, readings);
    const output = path.join(dir, `ma-${run.parallelism}-${run.workers}.jsonl`);
    const lateOutput = path.join(dir, `ma-late-${run.parallelism}-${run.workers}.jsonl`);
    await runJob('moving-average', { input, output, 'late-output': lateOutput }, run);
    expect(asMultiset(readJsonLines(output))).toEqual(asMultiset(expected.averages));
    expect(asMultiset(readJsonLines(lateOutput))).toEqual(asMultiset(expected.late));
  });
});

describe('pattern-alert', () => {
  const random = seededRandom(23);
  const events: PatternEvent[] = [];
  let clock = BASE;
  for (let i = 0; i < 5_000; i++) {
    clock += Math.floor(random() * 30_000);
    const roll = random();
    const delay = roll < 0.85 ? 0 : roll < 0.97 ? random() * 4 * MINUTE : 6 * MINUTE + random() * 30 * MINUTE;
    events.push({ key: `k${Math.floor(random() * 5)}`, type: ['A', 'B', 'C'][Math.floor(random() * 3)]!, ts: Math.floor(clock - delay) });
  }
  const expected = patternAlertReference(events, { withinMs: 10 * MINUTE, outOfOrdernessMs: 5 * MINUTE });

  it('has test data with alerts and late events', () => {
    expect(expected.alerts.length).toBeGreaterThan(100);
    expect(expected.late.length).toBeGreaterThan(0);
  });

  it.each(RUNS)('matches the reference model at parallelism $parallelism, workers $workers', async (run) => {
    const input = path.join(dir, 'events.jsonl');
    writeJsonLines(input, events);
    const output = path.join(dir, `alerts-${run.parallelism}-${run.workers}.jsonl`);
    const lateOutput = path.join(dir, `alerts-late-${run.parallelism}-${run.workers}.jsonl`);
    await runJob('pattern-alert', { input, output, 'late-output': lateOutput }, run);
    expect(asMultiset(readJsonLines(output))).toEqual(asMultiset(expected.alerts));
    expect(asMultiset(readJsonLines(lateOutput))).toEqual(asMultiset(expected.late));
  });
});

describe('sessionize', () => {
  const random = seededRandom(31);
  const activity: Activity[] = [];
  let clock = BASE;
  for (let i = 0; i < 4_000; i++) {
    clock += Math.floor(random() * (random() < 0.1 ? 3 * HOUR : 4 * MINUTE));
    activity.push({ user: `u${Math.floor(random() * 6)}`, ts: Math.floor(clock - random() * 2 * MINUTE) });
  }
  // One pair exactly one gap apart: as in Flink, touching windows merge.
  activity.push({ user: 'edge', ts: clock }, { user: 'edge', ts: clock + 30 * MINUTE });
  const expected = sessionizeReference(activity, { gapMs: 30 * MINUTE, outOfOrdernessMs: 5 * MINUTE });

  it.each(RUNS)('matches the reference model at parallelism $parallelism, workers $workers', async (run) => {
    const input = path.join(dir, 'activity.jsonl');
    writeJsonLines(input, activity);
    const output = path.join(dir, `sessions-${run.parallelism}-${run.workers}.jsonl`);
    await runJob('sessionize', { input, output }, run);
    const sessions = readJsonLines<{ user: string; start: number; end: number; count: number }>(output);
    expect(asMultiset(sessions)).toEqual(asMultiset(expected));
    expect(sessions.find((s) => s.user === 'edge')?.count).toBe(2);
  });
});

describe('correlate', () => {
  const random = seededRandom(47);
  const orders: OrderOrPayment[] = [];
  const payments: OrderOrPayment[] = [];
  let clock = BASE;
  for (let i = 0; i < 3_000; i++) {
    clock += Math.floor(random() * 60_000);
    const orderId = `o${Math.floor(random() * 2_500)}`;
    orders.push({ orderId, ts: clock });
    const roll = random();
    if (roll < 0.7) payments.push({ orderId, ts: clock + Math.floor(random() * 50 * MINUTE) });
    else if (roll < 0.8) payments.push({ orderId, ts: clock + HOUR }); // exactly on the inclusive bound
  }
  payments.sort((a, b) => a.ts - b.ts);
  const expected = correlateReference(orders, payments, HOUR);

  it('has test data with matches, unmatched orders and repeated ids', () => {
    expect(expected.matches.length).toBeGreaterThan(1000);
    expect(expected.unmatched.length).toBeGreaterThan(100);
  });

  it.each(RUNS)('matches the reference model at parallelism $parallelism, workers $workers', async (run) => {
    const ordersFile = path.join(dir, 'orders.jsonl');
    const paymentsFile = path.join(dir, 'payments.jsonl');
    writeJsonLines(ordersFile, orders);
    writeJsonLines(paymentsFile, payments);
    const output = path.join(dir, `matches-${run.parallelism}-${run.workers}.jsonl`);
    const unmatched = path.join(dir, `unmatched-${run.parallelism}-${run.workers}.jsonl`);
    await runJob('correlate', { orders: ordersFile, payments: paymentsFile, output, unmatched }, run);
    expect(asMultiset(readJsonLines(output))).toEqual(asMultiset(expected.matches));
    expect(asMultiset(readJsonLines(unmatched))).toEqual(asMultiset(expected.unmatched));
  });
});
