import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asMultiset, makeTempDir, readJsonLines, readOutputLines, removeDir, seededRandom, writeJsonLines } from '../jobs/job-test-support.ts';
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
} from '../jobs/reference-models.ts';
import {
  completedCheckpointIds,
  isMidRun,
  killAllSpawned,
  killGroup,
  latestCompletedId,
  Schedule,
  scheduleSeed,
  spawnEddy,
  waitUntil,
} from './kill-support.ts';

/**
 * Every bundled job end to end with checkpoints, through the real binary: `eddy run` with a short
 * checkpoint interval, its process group SIGKILLed after a completed checkpoint (after 1 or 2 of them, by
 * the seeded schedule), then `--from-checkpoint` at another parallelism; the committed output must equal
 * the reference model's (test/jobs/reference-models.ts) exactly.
 *
 * Watermarks are part of a checkpoint (each split's, and each keyed operator's), so a restored run
 * judges replayed records late exactly as the failure-free run did: moving-average's input has late
 * readings, within and beyond the allowed lateness, and its late output must match too. The inputs are large enough that a file-source job is still reading when its first checkpoints
 * complete; a run that ends before its kill point, or a kill after its sources finished, fails the
 * test (it would prove nothing about recovery).
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BASE = Date.UTC(2026, 0, 1);
const INTERVAL = '20ms';
const WAIT_MS = 45_000;
/**
 * sessionize and correlate on the RocksDB backend take 14-25 s here (two runs and a restore; correlate's
 * join buffers overflow the suite's 16 MB state budget, ~3.5x the memory backend's time) and up to 60 s on
 * a loaded machine.
 */
const SLOW_JOB_TIMEOUT_MS = 150_000;

const seed = scheduleSeed();
let dir: string;
let killCount = 0;
const startedAt = Date.now();

beforeAll(() => {
  dir = makeTempDir('recovery-jobs');
  console.log(`bundled-jobs-recovery: kill schedule seed ${seed} (replay with EDDY_KILL_SEED=${seed})`);
});

afterAll(async () => {
  await killAllSpawned();
  removeDir(dir);
  console.log(`bundled-jobs-recovery: ${killCount} kills in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (seed ${seed})`);
});

/**
 * Runs `jobs/<job>.ts` with checkpoints, kills it after a seeded number (1 to `maxCheckpointsBeforeKill`)
 * of completed checkpoints,
 * checks the kill fell while a source was still reading, and resumes it at another parallelism.
 */
async function killAndRestore(job: string, jobArgs: Record<string, string>, salt: number, maxCheckpointsBeforeKill = 2): Promise<string> {
  const schedule = new Schedule((seed ^ Math.imul(salt, 0x9e3779b9)) >>> 0);
  const checkpointDir = path.join(dir, `${job}-chk`);
  const first = schedule.integer(1, 3);
  const second = schedule.pick([1, 2, 3, 4].filter((p) => p !== first));
  const checkpointsBeforeKill = schedule.integer(1, maxCheckpointsBeforeKill);
  const workers = schedule.pick([0, 0, 2]);
  const story = `${job}: seed ${schedule.seed}, p=${first} w=${workers} killed after ${checkpointsBeforeKill} checkpoint(s), resumed at p=${second}`;
  const args = (parallelism: number): string[] => {
    const argv = ['run', `jobs/${job}.ts`, '--parallelism', String(parallelism), '--quiet', '--restart-strategy', 'none'];
    argv.push('--checkpoint-dir', checkpointDir, '--checkpoint-interval', INTERVAL);
    for (const [name, value] of Object.entries(jobArgs)) argv.push(`--${name}`, value);
    return argv;
  };

  const killed = spawnEddy([...args(first), '--workers', String(workers)]);
  const outcome = await waitUntil(
    killed,
    () => completedCheckpointIds(checkpointDir).length >= checkpointsBeforeKill,
    `${checkpointsBeforeKill} completed checkpoint(s) of ${job}`,
    WAIT_MS,
  );
  if (outcome === 'exited') {
    throw new Error(
      `${story}: the job ended (${JSON.stringify(killed.exit)}) before ${checkpointsBeforeKill} checkpoint(s) completed — ` +
        `make its input larger so that it is killed mid-run\n${killed.stderr}`,
    );
  }
  const exit = await killGroup(killed);
  if (exit.signal !== 'SIGKILL') throw new Error(`${story}: the job ended by itself (${JSON.stringify(exit)}) before the kill — make its input larger`);
  killCount++;
  const restoredFrom = latestCompletedId(checkpointDir);
  if (!isMidRun(checkpointDir, restoredFrom)) {
    throw new Error(`${story}: chk ${restoredFrom} was taken after every source finished — make the input larger so the kill falls mid-run`);
  }

  const resumed = spawnEddy([...args(second), '--workers', '0', '--from-checkpoint', checkpointDir]);
  const resumedExit = await resumed.exited;
  expect(resumedExit, `${story}\n${resumed.stderr}`).toEqual({ code: 0, signal: null });
  console.log(`${story}: restored from chk ${restoredFrom}`);
  return story;
}

describe('bundled jobs: SIGKILL after a checkpoint, --from-checkpoint at another parallelism, same output', () => {
  it('wordcount', async () => {
    const random = seededRandom(7);
    const vocabulary = ['Flink', 'kafka', 'Stream', 'état', 'naïve', 'café', 'x1', '42', 'ÉTÉ', 'the', 'a'];
    const lines: string[] = [];
    for (let i = 0; i < 450_000; i++) {
      const words: string[] = [];
      const n = Math.floor(random() * 8);
      for (let w = 0; w < n; w++) words.push(`${vocabulary[Math.floor(random() * vocabulary.length)]!}${w % 3 === 0 ? Math.floor(random() * 50) : ''}`);
      lines.push(words.join(random() < 0.5 ? ' ' : ', '));
    }
    const text = lines.join('\n');
    const input = path.join(dir, 'words.txt');
    writeFileSync(input, text);
    const output = path.join(dir, 'wordcount-out');
    const story = await killAndRestore('wordcount', { input, output }, 1);
    // The sorted lines come from one subtask: compare in order, not just as multisets.
    expect(readOutputLines(output), story).toEqual(wordCountReference(text));
  });

  it('moving-average', async () => {
    const random = seededRandom(11);
    const readings: Reading[] = [];
    let clock = BASE;
    for (let i = 0; i < 100_000; i++) {
      clock += Math.floor(random() * 2_000);
      // Mostly in order; some out of order within the bound (5 minutes); some late within the allowed
      // lateness (late firings) and some beyond it (late output).
      const roll = random();
      const delay =
        roll < 0.8 ? 0 : roll < 0.93 ? random() * 4 * MINUTE : roll < 0.98 ? 5 * MINUTE + random() * 60 * MINUTE : HOUR + random() * 2 * HOUR;
      readings.push({ sensor: `s${Math.floor(random() * 7)}`, ts: Math.floor(clock - delay), value: Math.round(random() * 1000) / 10 });
    }
    const expected = movingAverageReference(readings, { sizeMs: HOUR, slideMs: 10 * MINUTE, outOfOrdernessMs: 5 * MINUTE, allowedLatenessMs: 10 * MINUTE });
    expect(expected.late.length).toBeGreaterThan(0);
    expect(expected.averages.some((average) => average.late)).toBe(true);
    const input = path.join(dir, 'readings.jsonl');
    writeJsonLines(input, readings);
    const output = path.join(dir, 'ma-out');
    const lateOutput = path.join(dir, 'ma-late-out');
    const story = await killAndRestore('moving-average', { input, output, 'late-output': lateOutput }, 2);
    expect(asMultiset(readJsonLines(output)), story).toEqual(asMultiset(expected.averages));
    expect(asMultiset(readJsonLines(lateOutput)), story).toEqual(asMultiset(expected.late));
  });

  it('pattern-alert', async () => {
    const random = seededRandom(23);
    const events: PatternEvent[] = [];
    let clock = BASE;
    for (let i = 0; i < 100_000; i++) {
      clock += Math.floor(random() * 30_000);
      const delay = random() < 0.85 ? 0 : random() * 4 * MINUTE;
      // Mostly Cs (filtered out by the job): the reference model is quadratic in the As and Bs.
      const roll = random();
      const type = roll < 0.08 ? 'A' : roll < 0.16 ? 'B' : 'C';
      events.push({ key: `k${Math.floor(random() * 5)}`, type, ts: Math.floor(clock - delay) });
    }
    const expected = patternAlertReference(events, { withinMs: 10 * MINUTE, outOfOrdernessMs: 5 * MINUTE });
    expect(expected.late).toEqual([]);
    expect(expected.alerts.length).toBeGreaterThan(1000);
    const input = path.join(dir, 'events.jsonl');
    writeJsonLines(input, events);
    const output = path.join(dir, 'alerts-out');
    const lateOutput = path.join(dir, 'alerts-late-out');
    const story = await killAndRestore('pattern-alert', { input, output, 'late-output': lateOutput }, 3, 1);
    expect(asMultiset(readJsonLines(output)), story).toEqual(asMultiset(expected.alerts));
    expect(readOutputLines(lateOutput), story).toEqual([]);
  });

  it('sessionize', async () => {
    const random = seededRandom(31);
    const activity: Activity[] = [];
    let clock = BASE;
    for (let i = 0; i < 100_000; i++) {
      clock += Math.floor(random() * (random() < 0.1 ? 3 * HOUR : 4 * MINUTE));
      activity.push({ user: `u${Math.floor(random() * 6)}`, ts: Math.floor(clock - random() * 2 * MINUTE) });
    }
    activity.push({ user: 'edge', ts: clock }, { user: 'edge', ts: clock + 30 * MINUTE });
    const expected = sessionizeReference(activity, { gapMs: 30 * MINUTE, outOfOrdernessMs: 5 * MINUTE });
    const input = path.join(dir, 'activity.jsonl');
    writeJsonLines(input, activity);
    const output = path.join(dir, 'sessions-out');
    const story = await killAndRestore('sessionize', { input, output }, 4);
    const sessions = readJsonLines<{ user: string; start: number; end: number; count: number }>(output);
    expect(asMultiset(sessions), story).toEqual(asMultiset(expected));
    expect(sessions.find((s) => s.user === 'edge')?.count, story).toBe(2);
  }, SLOW_JOB_TIMEOUT_MS);

  it('correlate', async () => {
    const random = seededRandom(47);
    const orders: OrderOrPayment[] = [];
    const payments: OrderOrPayment[] = [];
    let clock = BASE;
    for (let i = 0; i < 120_000; i++) {
      clock += Math.floor(random() * 60_000);
      const orderId = `o${Math.floor(random() * 100_000)}`;
      orders.push({ orderId, ts: clock });
      const roll = random();
      if (roll < 0.7) payments.push({ orderId, ts: clock + Math.floor(random() * 50 * MINUTE) });
      else if (roll < 0.8) payments.push({ orderId, ts: clock + HOUR });
    }
    payments.sort((a, b) => a.ts - b.ts);
    // The reference is quadratic; matching never crosses orderIds, so apply it per bucket of orderIds.
    const expected = correlateByBuckets(orders, payments, HOUR);
    expect(expected.matches.length).toBeGreaterThan(10_000);
    expect(expected.unmatched.length).toBeGreaterThan(1_000);
    const ordersFile = path.join(dir, 'orders.jsonl');
    const paymentsFile = path.join(dir, 'payments.jsonl');
    writeJsonLines(ordersFile, orders);
    writeJsonLines(paymentsFile, payments);
    const output = path.join(dir, 'matches-out');
    const unmatched = path.join(dir, 'unmatched-out');
    // Aligned checkpoints of the join take ~1 s here (the in-flight records are drained first): kill after the first.
    const story = await killAndRestore('correlate', { orders: ordersFile, payments: paymentsFile, output, unmatched }, 5, 1);
    expect(asMultiset(readJsonLines(output)), story).toEqual(asMultiset(expected.matches));
    expect(asMultiset(readJsonLines(unmatched)), story).toEqual(asMultiset(expected.unmatched));
  }, SLOW_JOB_TIMEOUT_MS);
});

function correlateByBuckets(
  orders: readonly OrderOrPayment[],
  payments: readonly OrderOrPayment[],
  withinMs: number,
): ReturnType<typeof correlateReference> {
  const buckets = 200;
  const bucketOf = (orderId: string): number => Number(orderId.slice(1)) % buckets;
  const ordersBy = Array.from({ length: buckets }, (): OrderOrPayment[] => []);
  const paymentsBy = Array.from({ length: buckets }, (): OrderOrPayment[] => []);
  for (const order of orders) ordersBy[bucketOf(order.orderId)]!.push(order);
  for (const payment of payments) paymentsBy[bucketOf(payment.orderId)]!.push(payment);
  const result: ReturnType<typeof correlateReference> = { matches: [], unmatched: [] };
  for (let b = 0; b < buckets; b++) {
    const part = correlateReference(ordersBy[b]!, paymentsBy[b]!, withinMs);
    result.matches.push(...part.matches);
    result.unmatched.push(...part.unmatched);
  }
  return result;
}
