/**
 * The checkpointing benchmarks of `npm run bench`: (1) throughput of the keyed tumbling count with
 * checkpoints every second against checkpointing off, (2) checkpoint durations and sizes from the
 * checkpoints' `_metadata`, (3) time from a SIGKILL to processing again after `--from-checkpoint`,
 * and (4, only on request) a random-kill soak that checks the committed output against a golden run.
 * (1) runs each measurement in a fresh child process through `executeJob`; (3) and (4) drive the real
 * `eddy run` command in a detached process group that they kill.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobModuleRef } from '../../src/api/job.ts';
import type { CheckpointMetadata } from '../../src/checkpoint/checkpoint-metadata.ts';
import { buildJobGraph } from '../../src/runtime/job-loader.ts';
import { executeJob, type JobProgress } from '../../src/runtime/local-executor.ts';

const CHECKPOINT_JOB = fileURLToPath(new URL('./checkpoint-job.ts', import.meta.url));
const EDDY_BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const CHECKPOINT_INTERVAL_MS = 1_000;
/** Worker metrics reach the main thread this often (as in measure.ts). */
const PROGRESS_INTERVAL_MS = 20;

export type SinkKind = 'discard' | 'file';

/** What one child process measured for scenario (1) and (2). */
export interface CheckpointMeasurement {
  readonly sink: SinkKind;
  readonly parallelism: number;
  readonly workers: number;
  readonly checkpointing: boolean;
  readonly events: number;
  readonly measuredMs: number;
  readonly eventsPerSecond: number;
  readonly totalMs: number;
  readonly cpuMs: number;
  /** Completed checkpoints in the order taken, the final one (after the end of input) last. */
  readonly checkpoints: ReadonlyArray<{ readonly id: number; readonly durationMs: number; readonly totalBytes: number }>;
}

/**
 * Runs the checked tumbling count once in this process: `count` events at `parallelism` (in-process at
 * 1, on worker threads otherwise), with exactly-once checkpoints every second into a temp folder or
 * none. Every checkpoint is kept (`retained`), so the durations are read back from their `_metadata`.
 */
export async function measureCheckpointsInChild(sink: SinkKind, parallelism: number, count: number, checkpointing: boolean): Promise<CheckpointMeasurement> {
  const dir = mkdtempSync(path.join(tmpdir(), 'eddy-bench-chk-'));
  try {
    const rawArgs = { count, ...(sink === 'file' ? { output: path.join(dir, 'out') } : {}) };
    const ref: JobModuleRef = { modulePath: CHECKPOINT_JOB, exportName: 'job', rawArgs };
    const graph = await buildJobGraph(ref, { jobName: 'checkpoint-bench', parallelism });
    const workers = parallelism === 1 ? 0 : parallelism;
    let firstReport: { atMs: number; recordsIn: number } | undefined;
    const onProgress = (progress: JobProgress): void => {
      if (firstReport === undefined && progress.recordsIn > 0) firstReport = { atMs: performance.now(), recordsIn: progress.recordsIn };
    };
    const checkpointDir = path.join(dir, 'chk');
    const startCpu = process.cpuUsage();
    const startMs = performance.now();
    const result = await executeJob(graph, {
      workers,
      job: ref,
      ...(workers > 0 ? { onProgress, progressIntervalMs: PROGRESS_INTERVAL_MS } : {}),
      ...(checkpointing
        ? { checkpointing: { mode: 'exactly-once', dir: checkpointDir, intervalMs: CHECKPOINT_INTERVAL_MS, retained: 1_000_000 } }
        : {}),
    });
    const endMs = performance.now();
    const cpu = process.cpuUsage(startCpu);
    const events = result.operators.filter((o) => o.kind === 'source').reduce((sum, o) => sum + o.metrics.recordsOut, 0);
    if (events !== count) throw new Error(`the source emitted ${events} records, expected ${count}`);
    const measured =
      workers > 0 && firstReport !== undefined
        ? { ms: endMs - firstReport.atMs, events: events - firstReport.recordsIn }
        : { ms: endMs - startMs, events };
    return {
      sink,
      parallelism,
      workers,
      checkpointing,
      events,
      measuredMs: Math.round(measured.ms),
      eventsPerSecond: (measured.events * 1000) / measured.ms,
      totalMs: Math.round(endMs - startMs),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      checkpoints: checkpointing ? readCheckpoints(checkpointDir) : [],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readCheckpoints(checkpointDir: string): CheckpointMeasurement['checkpoints'] {
  return readdirSync(checkpointDir)
    .filter((name) => name.startsWith('chk-'))
    .map((name) => JSON.parse(readFileSync(path.join(checkpointDir, name, '_metadata'), 'utf8')) as CheckpointMetadata)
    .map((m) => ({ id: m.checkpointId, durationMs: m.durationMs, totalBytes: m.totalBytes }))
    .sort((a, b) => a.id - b.id);
}

/** Nearest-rank percentile of `values` (p in 0…100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function formatRate(eventsPerSecond: number): string {
  if (eventsPerSecond >= 1_000_000) return `${(eventsPerSecond / 1_000_000).toFixed(2)} M`;
  return `${Math.round(eventsPerSecond / 1_000)} k`;
}

function where(m: { readonly parallelism: number; readonly workers: number }): string {
  return m.workers === 0 ? '1 (in-process)' : `${m.parallelism} (${m.workers} workers)`;
}

/** Tables (1) and (2): rows pair each sink and parallelism's run without checkpoints with the run with them. */
export function formatCheckpointTables(rows: readonly CheckpointMeasurement[], runs: number): string {
  const lines = [
    '| sink | parallelism | events | events/s, checkpoints off | events/s, every 1 s | change | CPU µs/event, off → on | checkpoints |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const withCheckpoints = rows.filter((r) => r.checkpointing);
  for (const on of withCheckpoints) {
    const off = rows.find((r) => !r.checkpointing && r.sink === on.sink && r.parallelism === on.parallelism);
    if (off === undefined) continue;
    const change = ((on.eventsPerSecond - off.eventsPerSecond) / off.eventsPerSecond) * 100;
    lines.push(
      `| ${sinkTitle(on.sink)} | ${where(on)} | ${on.events.toLocaleString('en-US')} | ${formatRate(off.eventsPerSecond)} | ` +
        `${formatRate(on.eventsPerSecond)} | ${change >= 0 ? '+' : '−'}${Math.abs(change).toFixed(1)} % | ` +
        `${cpuPerEvent(off)} → ${cpuPerEvent(on)} | ${on.checkpoints.length} |`,
    );
  }
  lines.push(
    '',
    '| sink | parallelism | checkpoints | duration p50 | duration p99 | max | size p50 | final checkpoint |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const on of withCheckpoints) {
    const periodic = on.checkpoints.slice(0, -1);
    const final = on.checkpoints.at(-1);
    const durations = periodic.map((c) => c.durationMs);
    const kb = (bytes: number): string => `${Math.round(bytes / 1000)} kB`;
    lines.push(
      `| ${sinkTitle(on.sink)} | ${where(on)} | ${periodic.length} + final | ${percentile(durations, 50)} ms | ${percentile(durations, 99)} ms | ` +
        `${Math.max(...durations)} ms | ${kb(percentile(periodic.map((c) => c.totalBytes), 50))} | ` +
        `${final === undefined ? '–' : `${final.durationMs} ms, ${kb(final.totalBytes)}`} |`,
    );
  }
  lines.push(
    '',
    '- Job: scenario (b), the keyed tumbling count (10k keys, 1 s windows) with a process function adding key and window end to each count, ' +
      'so the output can be checked. Sinks: the discarding sink (a checkpoint is then the state snapshot alone) and the exactly-once file ' +
      'sink (JSON lines; with checkpoints on, part files published at each completed checkpoint, fsynced; off, one plain file per subtask).',
    '- Exactly-once checkpoints every 1 s to a temp folder on the local disk, each measurement in a fresh process. Duration is the ' +
      "`_metadata`'s `durationMs` (trigger to the last acknowledgement); p99 of so few checkpoints is close to the max. The final " +
      'checkpoint (taken once every task ended) is listed apart. CPU time (user + system, all threads, the whole run) ' +
      'is less disturbed by other load on the machine than events/s.' +
      (runs > 1 ? ` Best of ${runs} runs for throughput.` : ''),
  );
  return lines.join('\n');
}

/** CPU time of the whole run (all threads, worker start-up included) per event. */
function cpuPerEvent(m: CheckpointMeasurement): string {
  return ((m.cpuMs * 1000) / m.events).toFixed(2);
}

function sinkTitle(sink: SinkKind): string {
  return sink === 'file' ? 'exactly-once file sink' : 'discarding sink';
}

// ——— (3) and (4): the `eddy run` process, killed and restarted ———

/** One progress line of `eddy run`, as far as these benchmarks read it. */
interface ProgressLine {
  readonly atMs: number;
  readonly recordsIn: number;
  readonly checkpointId: number | undefined;
}

const PROGRESS_LINE = /^\[[^\]]*\] · in ([\d,]+) /;

/** A running `eddy run` in its own process group, with its progress lines as they arrive. */
class EddyProcess {
  readonly startedAtMs = performance.now();
  readonly lines: ProgressLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private readonly waiters: Array<() => void> = [];
  private exitCode: number | null | undefined = undefined;

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [EDDY_BIN, 'run', CHECKPOINT_JOB, ...args], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let partial = '';
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      const atMs = performance.now();
      partial += chunk;
      const complete = partial.split('\n');
      partial = complete.pop()!;
      for (const text of complete) {
        this.stderr.push(text);
        const match = PROGRESS_LINE.exec(text);
        if (match !== null) {
          const checkpoint = /· checkpoint (\d+) \(/.exec(text);
          this.lines.push({
            atMs,
            recordsIn: Number(match[1]!.replaceAll(',', '')),
            checkpointId: checkpoint === null ? undefined : Number(checkpoint[1]),
          });
        }
      }
      this.wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        this.exitCode = code;
        this.wake();
        resolve(code);
      });
    });
  }

  get hasExited(): boolean {
    return this.exitCode !== undefined;
  }

  /** Distinct checkpoints this process reported completed. */
  checkpointsSeen(): number {
    return new Set(this.lines.map((l) => l.checkpointId).filter((id) => id !== undefined)).size;
  }

  /** Resolves when `condition` holds after a line arrived, or the process exited (then false). */
  async until(condition: () => boolean): Promise<boolean> {
    for (;;) {
      if (condition()) return true;
      if (this.hasExited) return condition();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** SIGKILL to the whole process group; returns the moment it was sent. */
  kill(): number {
    const atMs = performance.now();
    process.kill(-this.child.pid!, 'SIGKILL');
    return atMs;
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

function eddyArgs(options: {
  readonly count: number;
  readonly parallelism: number;
  readonly output: string;
  readonly checkpointDir: string;
  readonly rate?: number;
  readonly fromCheckpoint?: boolean;
}): string[] {
  return [
    '--count', String(options.count),
    '--output', options.output,
    ...(options.rate === undefined ? [] : ['--rate', String(options.rate)]),
    '--parallelism', String(options.parallelism),
    '--workers', String(options.parallelism === 1 ? 0 : options.parallelism),
    '--checkpoint-dir', options.checkpointDir,
    '--checkpoint-interval', `${CHECKPOINT_INTERVAL_MS}ms`,
    '--progress-interval', '100ms',
    '--restart-strategy', 'none',
    ...(options.fromCheckpoint === true ? ['--from-checkpoint', options.checkpointDir] : []),
  ];
}

export interface RecoveryMeasurement {
  readonly parallelism: number;
  /** Fresh start (no checkpoint) to the first progress line with records. */
  readonly coldStartMs: number;
  /** SIGKILL to the first progress line with records in the restarted process. */
  readonly killToRecordsMs: number;
  /** SIGKILL to the restarted process's first progress line (CLI, tsx and the job module loaded, the executor running). */
  readonly killToFirstLineMs: number;
  /** The restarted process's first progress line already showed records (as opposed to `in 0`). */
  readonly recordsInFirstLine: boolean;
}

/**
 * (3) Starts the job with checkpoints every second, waits for 2 completed checkpoints, kills the
 * process group, restarts at once with `--from-checkpoint` and times the way back to processing.
 * Progress lines come every 100 ms, so the figures are rounded up by up to that.
 */
export async function measureRecovery(parallelism: number): Promise<RecoveryMeasurement> {
  const dir = mkdtempSync(path.join(tmpdir(), 'eddy-bench-recovery-'));
  try {
    const base = { count: 100_000_000, parallelism, output: path.join(dir, 'out'), checkpointDir: path.join(dir, 'chk') };
    const first = new EddyProcess(eddyArgs(base));
    if (!(await first.until(() => first.checkpointsSeen() >= 2))) throw processFailure(first, 'before 2 checkpoints completed');
    const firstRecords = first.lines.find((l) => l.recordsIn > 0)!;
    const killedAtMs = first.kill();
    await first.exited;
    const second = new EddyProcess(eddyArgs({ ...base, fromCheckpoint: true }));
    if (!(await second.until(() => second.lines.some((l) => l.recordsIn > 0)))) throw processFailure(second, 'before processing records');
    const resumed = second.lines.find((l) => l.recordsIn > 0)!;
    second.kill();
    await second.exited;
    return {
      parallelism,
      coldStartMs: Math.round(firstRecords.atMs - first.startedAtMs),
      killToRecordsMs: Math.round(resumed.atMs - killedAtMs),
      killToFirstLineMs: Math.round(second.lines[0]!.atMs - killedAtMs),
      recordsInFirstLine: second.lines[0]!.recordsIn > 0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function processFailure(eddy: EddyProcess, when: string): Error {
  return new Error(`eddy run exited ${when}:\n${eddy.stderr.slice(-20).join('\n')}`);
}

export function formatRecoveryTable(rows: readonly RecoveryMeasurement[]): string {
  const median = (values: number[]): number => percentile(values, 50);
  const lines = [
    '| parallelism | kill → records again (median) | min – max | kill → first progress line | cold start → records |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const parallelism of [...new Set(rows.map((r) => r.parallelism))]) {
    const of = rows.filter((r) => r.parallelism === parallelism);
    const total = of.map((r) => r.killToRecordsMs);
    lines.push(
      `| ${parallelism === 1 ? '1 (in-process)' : `${parallelism} (${parallelism} workers)`} | ${median(total)} ms | ` +
        `${Math.min(...total)} – ${Math.max(...total)} ms | ${median(of.map((r) => r.killToFirstLineMs))} ms | ` +
        `${median(of.map((r) => r.coldStartMs))} ms |`,
    );
  }
  lines.push(
    '',
    `- ${rows.length / new Set(rows.map((r) => r.parallelism)).size} kills per parallelism: \`eddy run\` of the checked tumbling count ` +
      '(file sink) with checkpoints every 1 s, SIGKILL to its process group once 2 checkpoints completed, restarted at once with ' +
      '`--from-checkpoint`; times from the kill to the first `--progress-interval 100ms` line showing records read (up to 100 ms late). ' +
      '"kill → first progress line" is the part spent starting Node, tsx and the CLI and loading the job; the rest is restoring the ' +
      'checkpoint and starting the tasks (and worker threads). "cold start" is the same command without a checkpoint, from spawn.',
  );
  return lines.join('\n');
}

// ——— (4) the random-kill soak ———

/** Mulberry32: a small seeded generator, so that a soak's kill schedule can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SoakResult {
  readonly seed: number;
  readonly events: number;
  readonly kills: number;
  readonly restarts: number;
  readonly parallelisms: readonly number[];
  readonly soakMs: number;
  readonly totalMs: number;
  readonly outputLines: number;
  readonly goldenLines: number;
  readonly matched: boolean;
}

/** The published part files' lines, sorted (in-progress files, hidden, are not output). */
function committedLines(output: string): string[] {
  const lines: string[] = [];
  for (const name of readdirSync(output)) {
    if (name.startsWith('.')) continue;
    for (const line of readFileSync(path.join(output, name), 'utf8').split('\n')) if (line !== '') lines.push(line);
  }
  return lines.sort();
}

/**
 * (4) Runs the job rate-limited so that it lasts past `soakMs`, killing it (SIGKILL, process group)
 * 1–3 completed checkpoints plus 0–1 s after each (re)start and restarting it from its checkpoint dir
 * at a random parallelism (1 or 2), until `soakMs` passed; then lets it finish and compares the
 * committed output, as a multiset of lines, with an uninterrupted run's.
 */
export async function runSoak(seed: number, soakMs: number, log: (line: string) => void): Promise<SoakResult> {
  const random = seededRandom(seed);
  const dir = mkdtempSync(path.join(tmpdir(), 'eddy-bench-soak-'));
  try {
    const rate = 400_000;
    const count = Math.round(((soakMs + 10_000) / 1000) * rate);
    const output = path.join(dir, 'out');
    const checkpointDir = path.join(dir, 'chk');
    const startMs = performance.now();
    const parallelisms: number[] = [];
    let kills = 0;
    let fromCheckpoint = false;
    for (;;) {
      const parallelism = 1 + Math.floor(random() * 2);
      parallelisms.push(parallelism);
      const eddy = new EddyProcess(eddyArgs({ count, rate, parallelism, output, checkpointDir, fromCheckpoint }));
      const soaking = performance.now() - startMs < soakMs;
      if (soaking) {
        const checkpoints = 1 + Math.floor(random() * 3);
        const extraMs = Math.floor(random() * 1000);
        if (await eddy.until(() => eddy.checkpointsSeen() >= checkpoints)) {
          await new Promise((resolve) => setTimeout(resolve, extraMs));
          if (!eddy.hasExited) {
            eddy.kill();
            await eddy.exited;
            kills++;
            log(`  soak: kill ${kills} at ${Math.round((performance.now() - startMs) / 1000)} s (p=${parallelism}, after ${eddy.checkpointsSeen()} checkpoints)`);
            fromCheckpoint = true;
            continue;
          }
        }
      }
      const code = await eddy.exited;
      if (code !== 0) throw processFailure(eddy, `with code ${code}`);
      break;
    }
    const totalMs = performance.now() - startMs;
    log('  soak: golden run');
    const goldenOutput = path.join(dir, 'golden');
    const golden = new EddyProcess(eddyArgs({ count, parallelism: 2, output: goldenOutput, checkpointDir: path.join(dir, 'golden-chk') }));
    const goldenCode = await golden.exited;
    if (goldenCode !== 0) throw processFailure(golden, `with code ${goldenCode}`);
    const actual = committedLines(output);
    const expected = committedLines(goldenOutput);
    const matched = actual.length === expected.length && actual.every((line, i) => line === expected[i]);
    return {
      seed,
      events: count,
      kills,
      restarts: kills,
      parallelisms,
      soakMs,
      totalMs: Math.round(totalMs),
      outputLines: actual.length,
      goldenLines: expected.length,
      matched,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatSoakTable(result: SoakResult): string {
  return [
    '| seed | events | kills | restarts | parallelism per run | run time | output lines (golden) | output matched |',
    '|---:|---:|---:|---:|---|---:|---:|---|',
    `| ${result.seed} | ${result.events.toLocaleString('en-US')} | ${result.kills} | ${result.restarts} | ${result.parallelisms.join(' ▶ ')} | ` +
      `${(result.totalMs / 1000).toFixed(0)} s | ${result.outputLines.toLocaleString('en-US')} (${result.goldenLines.toLocaleString('en-US')}) | ` +
      `${result.matched ? 'yes' : '**no**'} |`,
    '',
    `- \`eddy run\` of the checked tumbling count at 400k events/s (generator rate limit), exactly-once file sink, checkpoints every 1 s; ` +
      `for the first ${Math.round(result.soakMs / 1000)} s each (re)start is SIGKILLed 1–3 completed checkpoints plus 0–1 s in, then ` +
      'restarted with `--from-checkpoint` at a seeded random parallelism; the last run finishes. The published part files, as a sorted ' +
      'multiset of lines, are compared with an uninterrupted run (parallelism 2, no rate limit).',
  ].join('\n');
}
