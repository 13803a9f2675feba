import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir } from '../jobs/job-test-support.ts';
import {
  checkpointIds,
  committedLines,
  completedCheckpointIds,
  duplicates,
  killAllSpawned,
  killGroup,
  latestCompletedId,
  Schedule,
  scheduleSeed,
  spawnEddy,
  waitUntil,
} from './kill-support.ts';

/**
 * Issue #3's kill test: the whole `eddy run` process group is SIGKILLed on a seeded schedule, each kill
 * after a newly completed checkpoint (so every restart makes progress), and restarted with
 * `--from-checkpoint` — sometimes at another parallelism — until the job finishes. The committed part
 * files must then equal the failure-free run's exactly (exactly-once), or contain every line of it
 * (at-least-once). The schedule is random, its seed logged (replay with EDDY_KILL_SEED=<seed>); the
 * outcome asserted is the same for every seed.
 */
const JOB = 'test/recovery/fixtures/paced-keyed-job.ts';
/**
 * 36,000 records at 8,000/s: an uninterrupted run reads for 4.5 s (plus ~1 s start-up); a killed run
 * gets ~0.2–0.6 s of it done (more when checkpoints are slow: RocksDB on a loaded machine), so a
 * schedule's kills all fall before the end.
 */
const COUNT = 36_000;
const RATE = 8_000;
const KEYS = 17;
const WINDOW = 500;
const INTERVAL = '200ms';
const MAX_PARALLELISM = 8;
/** Kills per job run; the run after the last kill goes to the end. */
const KILLS_PER_RUN = 6;
const AT_LEAST_ONCE_KILLS = 4;
/**
 * `--workers` per run, picked by the schedule: mostly in the main thread (start-up ~1 s), sometimes on
 * worker threads (each thread loads the job again: ~1.5 s for one, ~2.5 s for two on 2 cores).
 */
const WORKER_CHOICES = [0, 0, 0, 1, 2];
/** Bound of one condition wait: start-up plus a checkpoint, with room for a loaded CI machine. */
const WAIT_MS = 45_000;

const seed = scheduleSeed();
let dir: string;
let killCount = 0;
const startedAt = Date.now();

beforeAll(() => {
  dir = makeTempDir('recovery-kill');
  console.log(`kill-restore: kill schedule seed ${seed} (replay with EDDY_KILL_SEED=${seed})`);
  // The failure-free runs go on while the first kill schedule runs (their processes are independent).
  void goldenWindows().catch(() => undefined);
  void goldenRecords().catch(() => undefined);
});

afterAll(async () => {
  await killAllSpawned();
  removeDir(dir);
  console.log(`kill-restore: ${killCount} kills in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (seed ${seed})`);
});

type Shape = 'windows' | 'records';
type Mode = 'exactly-once' | 'at-least-once';

function jobArgs(shape: Shape, output: string): string[] {
  return [
    'run', JOB, '--count', String(COUNT), '--rate-per-second', String(RATE), '--keys', String(KEYS),
    '--window-size', String(WINDOW), '--shape', shape, '--output', output, '--quiet', '--max-parallelism', String(MAX_PARALLELISM),
  ];
}

/** A failure-free run to the end; returns its committed lines. */
async function goldenRun(shape: Shape, name: string): Promise<string[]> {
  const output = path.join(dir, `${name}-out`);
  const handle = spawnEddy([
    ...jobArgs(shape, output), '--parallelism', '2', '--checkpoint-dir', path.join(dir, `${name}-chk`), '--checkpoint-interval', INTERVAL,
    '--restart-strategy', 'none',
  ]);
  const exit = await handle.exited;
  if (exit.code !== 0) throw new Error(`the failure-free ${shape} run failed (${JSON.stringify(exit)}):\n${handle.stderr}`);
  return committedLines(output);
}

/** The windows job's failure-free output (sorted), from one run shared by the tests of this file. */
let goldenWindowsRun: Promise<string[]> | undefined;
function goldenWindows(): Promise<string[]> {
  goldenWindowsRun ??= goldenRun('windows', 'golden').then((lines) => lines.sort());
  return goldenWindowsRun;
}
let goldenRecordsRun: Promise<string[]> | undefined;
function goldenRecords(): Promise<string[]> {
  goldenRecordsRun ??= goldenRun('records', 'golden-records').then((lines) => lines.sort());
  return goldenRecordsRun;
}

interface KillRunReport {
  readonly kills: number;
  readonly parallelisms: number[];
  readonly lines: string[];
  readonly log: string[];
}

/**
 * Runs the job, SIGKILLing its process group after 1–3 newly completed checkpoints (or as soon as the
 * checkpoint after a newly completed one has started), then resumes it from the checkpoint dir at a
 * seeded parallelism; after `maxKills` kills (or when a run ends by itself first) the last run goes to
 * the end and must succeed.
 */
async function runWithKills(shape: Shape, mode: Mode, name: string, schedule: Schedule, maxKills: number): Promise<KillRunReport> {
  const output = path.join(dir, `${name}-out`);
  const checkpointDir = path.join(dir, `${name}-chk`);
  const log: string[] = [];
  const parallelisms: number[] = [];
  let kills = 0;
  for (let run = 0; ; run++) {
    const previous = parallelisms.at(-1);
    // Mostly another parallelism than the previous run's (rescaling by key groups), sometimes the same.
    const parallelism =
      previous === undefined ? schedule.integer(1, 3) : schedule.chance(0.7) ? schedule.pick([1, 2, 3, 4].filter((p) => p !== previous)) : previous;
    parallelisms.push(parallelism);
    const workers = schedule.pick(WORKER_CHOICES);
    const baseline = latestCompletedId(checkpointDir);
    const args = [
      ...jobArgs(shape, output), '--parallelism', String(parallelism), '--workers', String(workers), '--checkpoint-dir', checkpointDir, '--checkpoint-interval', INTERVAL,
      '--checkpointing', mode, '--restart-strategy', 'none', ...(run === 0 ? [] : ['--from-checkpoint', checkpointDir]),
    ];
    const runStartedAt = Date.now();
    const handle = spawnEddy(args);
    const took = (): string => `${Date.now() - runStartedAt} ms`;
    if (kills === maxKills) {
      const exit = await handle.exited;
      expect(exit, `last run (p=${parallelism}) failed; seed ${schedule.seed}\n${handle.stderr}`).toEqual({ code: 0, signal: null });
      log.push(`run ${run}: p=${parallelism} w=${workers}, from chk ${baseline}, finished in ${took()}`);
      break;
    }
    const newCheckpoints = schedule.integer(1, 3);
    const killMidCheckpoint = schedule.chance(0.3);
    // Checkpoint ids only grow (also across restarts): a newly completed checkpoint has an id > baseline.
    const completedAfter = (): number => completedCheckpointIds(checkpointDir).filter((id) => id > baseline).length;
    let outcome = await waitUntil(handle, () => completedAfter() >= newCheckpoints, `${newCheckpoints} new checkpoint(s) after chk ${baseline}`, WAIT_MS);
    if (outcome === 'met' && killMidCheckpoint) {
      // Also kill while the next checkpoint is in flight (its folder exists, maybe not its _metadata).
      const completed = latestCompletedId(checkpointDir);
      outcome = await waitUntil(handle, () => (checkpointIds(checkpointDir).at(-1) ?? 0) > completed, `checkpoint after chk ${completed} to start`, WAIT_MS);
    }
    if (outcome === 'exited') {
      // The job reached its end before the kill point: that is the last run.
      expect(handle.exit, `run ${run} (p=${parallelism}) failed; seed ${schedule.seed}\n${handle.stderr}`).toEqual({ code: 0, signal: null });
      log.push(`run ${run}: p=${parallelism} w=${workers}, from chk ${baseline}, finished before its kill point`);
      break;
    }
    const exit = await killGroup(handle);
    const killedAt = latestCompletedId(checkpointDir);
    if (exit.signal === 'SIGKILL') {
      kills++;
      killCount++;
      log.push(`run ${run}: p=${parallelism} w=${workers}, from chk ${baseline}, killed after chk ${killedAt}${killMidCheckpoint ? ' (next one started)' : ''} at ${took()}`);
    } else {
      // Exited by itself between the condition and the kill.
      expect(exit, `run ${run} failed; seed ${schedule.seed}\n${handle.stderr}`).toEqual({ code: 0, signal: null });
      log.push(`run ${run}: p=${parallelism} w=${workers}, from chk ${baseline}, finished just before the kill`);
      break;
    }
    expect(killedAt, 'every killed run completed a new checkpoint').toBeGreaterThan(baseline);
  }
  return { kills, parallelisms, lines: committedLines(output), log };
}

/** The windows job's output from first principles: per key, its tumbling windows numbered in order. */
function windowsModel(): string[] {
  const windows = new Map<string, { key: string; windowEnd: number; count: number; sum: number }>();
  for (let i = 0; i < COUNT; i++) {
    const key = `k${i % KEYS}`;
    const windowEnd = i - (i % WINDOW) + WINDOW;
    const id = `${key}@${windowEnd}`;
    const window = windows.get(id) ?? { key, windowEnd, count: 0, sum: 0 };
    window.count++;
    window.sum += i;
    windows.set(id, window);
  }
  const lines: string[] = [];
  const perKey = new Map<string, { seq: number; runningCount: number }>();
  for (const window of [...windows.values()].sort((a, b) => a.windowEnd - b.windowEnd)) {
    const state = perKey.get(window.key) ?? { seq: 0, runningCount: 0 };
    state.seq++;
    state.runningCount += window.count;
    perKey.set(window.key, state);
    lines.push(JSON.stringify({ ...window, seq: state.seq, runningCount: state.runningCount }));
  }
  return lines.sort();
}

function recordsModel(): string[] {
  return Array.from({ length: COUNT }, (_, i) => JSON.stringify({ key: `k${i % KEYS}`, i })).sort();
}

describe('eddy run, SIGKILLed after checkpoints and resumed with --from-checkpoint', () => {
  it.each([
    { name: 'first', offset: 0 },
    { name: 'second', offset: 1 },
    { name: 'third', offset: 2 },
  ])('exactly-once: $name kill schedule commits the golden output exactly, no loss, no duplicate', async ({ offset }) => {
    const schedule = new Schedule((seed + offset * 0x9e3779b9) >>> 0);
    const report = await runWithKills('windows', 'exactly-once', `exactly-once-${offset}`, schedule, KILLS_PER_RUN);
    const golden = await goldenWindows();
    const context = `seed ${schedule.seed}\n${report.log.join('\n')}`;
    console.log(context);
    expect(report.kills, context).toBeGreaterThanOrEqual(1);
    expect(duplicates(report.lines), context).toEqual(new Map());
    expect([...report.lines].sort(), context).toEqual(golden);
  });

  it('at-least-once: a kill schedule loses nothing (every golden line present; duplicates allowed)', async () => {
    const schedule = new Schedule((seed + 3 * 0x9e3779b9) >>> 0);
    const report = await runWithKills('records', 'at-least-once', 'at-least-once', schedule, AT_LEAST_ONCE_KILLS);
    const recordsGolden = await goldenRecords();
    expect(recordsGolden).toEqual(recordsModel());
    const context = `seed ${schedule.seed}\n${report.log.join('\n')}`;
    expect(report.kills, context).toBeGreaterThanOrEqual(1);
    const seen = new Set(report.lines);
    expect(recordsGolden.filter((line) => !seen.has(line)), context).toEqual([]);
    const golden = new Set(recordsGolden);
    expect(report.lines.filter((line) => !golden.has(line)), context).toEqual([]);
    console.log(`at-least-once: ${report.lines.length - recordsGolden.length} duplicate line(s) committed`);
  });

  it('the failure-free run (the golden output) commits exactly the model output', async () => {
    expect(await goldenWindows()).toEqual(windowsModel());
  });

  it('the schedules above killed the job at least 20 times', () => {
    expect(killCount).toBeGreaterThanOrEqual(20);
  });
});
