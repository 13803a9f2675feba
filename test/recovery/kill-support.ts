import { spawn } from 'node:child_process';
import { stateBackendCliArgs } from '../support/state-backend.ts';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../jobs/job-test-support.ts';

/**
 * Kill-test support: the real `eddy` binary in its own process group (killed whole with SIGKILL), and
 * bounded condition waits on the checkpoint directory. No fixed sleeps: every wait polls a condition
 * and gives up after a deadline with a message saying what it waited for.
 */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'src/cli/bin.js');

/** How often a condition wait looks at the file system. */
const POLL_MS = 3;

export interface EddyProcess {
  readonly pid: number;
  readonly args: readonly string[];
  /** Resolves when the process has exited (by itself or killed). */
  readonly exited: Promise<ProcessExit>;
  /** Set once `exited` resolved. */
  exit: ProcessExit | undefined;
  /** Everything written so far (stdout and stderr interleaved per stream). */
  stdout: string;
  stderr: string;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Process groups spawned and not yet known to have exited: `killAllSpawned` ends them. */
const live = new Set<EddyProcess>();

/** Starts `node src/cli/bin.js <args>` as the leader of a new process group (detached). */
export function spawnEddy(args: readonly string[]): EddyProcess {
  const child = spawn(process.execPath, [BIN, ...args, ...stateBackendCliArgs()], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not spawn eddy ${args.join(' ')}`);
  const handle: EddyProcess = {
    pid: child.pid,
    args,
    exit: undefined,
    stdout: '',
    stderr: '',
    exited: new Promise<ProcessExit>((resolve) => {
      child.on('close', (code, signal) => {
        handle.exit = { code, signal };
        live.delete(handle);
        resolve(handle.exit);
      });
    }),
  };
  child.stdout.setEncoding('utf8').on('data', (text: string) => void (handle.stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => void (handle.stderr += text));
  live.add(handle);
  return handle;
}

/** SIGKILLs the whole process group and waits until the leader is gone. */
export async function killGroup(handle: EddyProcess): Promise<ProcessExit> {
  try {
    process.kill(-handle.pid, 'SIGKILL');
  } catch (error) {
    // ESRCH: the group is already gone (the process exited by itself a moment ago).
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
  return handle.exited;
}

/** For afterAll: kills every process group this module spawned that is still running. */
export async function killAllSpawned(): Promise<void> {
  await Promise.all([...live].map((handle) => killGroup(handle)));
}

/** Ids of the checkpoints of `dir` whose `_metadata` exists (i.e. completed), ascending. */
export function completedCheckpointIds(dir: string): number[] {
  return checkpointFolders(dir)
    .filter((name) => existsSync(path.join(dir, name, '_metadata')))
    .map((name) => Number(name.slice('chk-'.length)))
    .sort((a, b) => a - b);
}

/** Ids of every `chk-<id>` folder of `dir` (completed, in progress or partial), ascending. */
export function checkpointIds(dir: string): number[] {
  return checkpointFolders(dir)
    .map((name) => Number(name.slice('chk-'.length)))
    .sort((a, b) => a - b);
}

function checkpointFolders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((name) => /^chk-\d{6}$/.test(name));
}

export function latestCompletedId(dir: string): number {
  return completedCheckpointIds(dir).at(-1) ?? 0;
}

/** The part of a checkpoint's `_metadata` the kill tests look at. */
export interface MetadataView {
  readonly checkpointId: number;
  readonly operators: ReadonlyArray<{
    readonly uid: string;
    readonly kind: string;
    readonly parallelism: number;
    readonly subtasks: ReadonlyArray<{ readonly subtask: number; readonly isFinished: boolean }>;
  }>;
}

export function readMetadata(dir: string, id: number): MetadataView {
  return JSON.parse(readFileSync(path.join(dir, `chk-${String(id).padStart(6, '0')}`, '_metadata'), 'utf8')) as MetadataView;
}

/** True if some source subtask had not reached the end of its input when checkpoint `id` was taken. */
export function isMidRun(dir: string, id: number): boolean {
  return readMetadata(dir, id).operators.some((operator) => operator.kind === 'source' && operator.subtasks.some((s) => !s.isFinished));
}

/**
 * Polls `condition` until it holds ('met'), the process exits first ('exited'), or `timeoutMs` passes
 * (throws, naming `what` and the process's stderr so far).
 */
export async function waitUntil(
  handle: EddyProcess,
  condition: () => boolean,
  what: string,
  timeoutMs: number,
): Promise<'met' | 'exited'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return 'met';
    if (handle.exit !== undefined) return condition() ? 'met' : 'exited';
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; eddy ${handle.args.join(' ')}\nstderr: ${handle.stderr}`);
    }
    await new Promise<void>((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * The seed of this run's kill schedule: EDDY_KILL_SEED if set (to replay a logged schedule), else
 * fresh. The schedule is the only random part: outcomes are asserted to be the same for every seed.
 */
export function scheduleSeed(): number {
  const fromEnv = process.env['EDDY_KILL_SEED'];
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** A seeded schedule: uniform integers in [min, max] and picks, from `seededRandom` (mulberry32). */
export class Schedule {
  private readonly random: () => number;

  constructor(readonly seed: number) {
    this.random = seededRandom(seed);
  }

  integer(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  pick<T>(options: readonly T[]): T {
    return options[Math.floor(this.random() * options.length)]!;
  }

  chance(p: number): boolean {
    return this.random() < p;
  }
}

/** Committed lines of the exactly-once file sink: every part file of `dir`, dot files ignored. */
export function committedLines(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .flatMap((name) => readFileSync(path.join(dir, name), 'utf8').split('\n').filter((line) => line !== ''));
}

/** Lines occurring more than once, with their counts. */
export function duplicates(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
  return new Map([...counts].filter(([, count]) => count > 1));
}
