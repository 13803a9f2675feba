import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathSegmentOf } from '../checkpoint/checkpoint-storage.ts';
import { ConfigurationError, describeError, EddyError } from '../core/errors.ts';

/**
 * The local folders of the RocksDB state backend. A run works in a folder of its own inside
 * `--state-dir` — `eddy-<job>-<pid>-<start ms>` — so that two runs (of one job or of several) never
 * share a database; inside it each keyed operator subtask has `<uid>/subtask-<i>-attempt-<n>` (a restart
 * opens fresh databases while the failed attempt's are still closing). Local state is a working copy:
 * what survives failures is in checkpoints, so the run folder is removed when the run ends, and run
 * folders left behind by killed processes of this host are removed when the next run starts here.
 */

const RUN_MARKER = '_eddy-run.json';
const RUN_FOLDER = /^eddy-.+-\d+-\d+$/;

interface RunMarker {
  readonly hostname: string;
  readonly pid: number;
  readonly jobName: string;
  readonly startedAt: string;
}

/** Creates this run's folder inside `stateDir` (which must exist) and removes stale ones. */
export async function createStateRunFolder(stateDir: string, jobName: string, log: (line: string) => void): Promise<string> {
  await checkStateDir(stateDir);
  await removeStaleRunFolders(stateDir, log);
  const startedAtMs = Date.now();
  const folder = path.join(stateDir, `eddy-${pathSegmentOf(jobName)}-${process.pid}-${startedAtMs}`);
  try {
    await mkdir(folder, { recursive: true });
    const marker: RunMarker = { hostname: os.hostname(), pid: process.pid, jobName, startedAt: new Date(startedAtMs).toISOString() };
    await writeFile(path.join(folder, RUN_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  } catch (error) {
    throw new ConfigurationError(`state dir '${stateDir}' is not writable: ${describeError(error)}; choose another --state-dir`, {
      cause: error,
    });
  }
  return folder;
}

/** The database folder of one keyed operator subtask in one attempt. */
export function stateBackendFolder(runFolder: string, uid: string, subtask: number, attempt: number): string {
  return path.join(runFolder, pathSegmentOf(uid), `subtask-${subtask}-attempt-${attempt}`);
}

/** Removes the database folders (and their capture folders) of one attempt; failures are logged. */
export async function removeAttemptFolders(runFolder: string, attempt: number, log: (line: string) => void): Promise<void> {
  const suffix = `-attempt-${attempt}`;
  let operators: string[];
  try {
    operators = (await readdir(runFolder, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    log(`could not list the state folder '${runFolder}': ${describeError(error)}`);
    return;
  }
  for (const operator of operators) {
    for (const name of await readdir(path.join(runFolder, operator)).catch(() => [] as string[])) {
      // subtask-<i>-attempt-<n>, and its captures and log chunks: …-attempt-<n>.chk-<id>, …-attempt-<n>.wal-chunks
      if (name.endsWith(suffix) || name.includes(`${suffix}.`)) await removeStateRunFolder(path.join(runFolder, operator, name), log);
    }
  }
}

/** Removes a run's folder; failures are logged (the next run on this host retries). */
export async function removeStateRunFolder(folder: string, log: (line: string) => void): Promise<void> {
  try {
    await rm(folder, { recursive: true, force: true });
  } catch (error) {
    log(`could not remove the state folder '${folder}': ${describeError(error)}`);
  }
}

async function checkStateDir(stateDir: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(stateDir)).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigurationError(
      code === 'ENOENT'
        ? `state dir '${stateDir}' does not exist; create it or choose another --state-dir`
        : `state dir '${stateDir}' cannot be used: ${describeError(error)}; choose another --state-dir`,
      { cause: error },
    );
  }
  if (!isDirectory) throw new ConfigurationError(`state dir '${stateDir}' is not a folder; choose another --state-dir`);
}

async function removeStaleRunFolders(stateDir: string, log: (line: string) => void): Promise<void> {
  let names: string[];
  try {
    names = await readdir(stateDir);
  } catch (error) {
    throw new EddyError(`could not list state dir '${stateDir}': ${describeError(error)}`, { cause: error });
  }
  const hostname = os.hostname();
  for (const name of names.filter((candidate) => RUN_FOLDER.test(candidate))) {
    const folder = path.join(stateDir, name);
    let marker: RunMarker;
    try {
      marker = JSON.parse(await readFile(path.join(folder, RUN_MARKER), 'utf8')) as RunMarker;
    } catch {
      continue; // not ours, or still being created: leave it
    }
    if (marker.hostname !== hostname) continue;
    // This process's pid in a folder made before this process started: an earlier process with the same
    // pid (a restarted container's job is often pid 1 or 7 again).
    const isOwnPid = marker.pid === process.pid;
    if (isOwnPid && !(Date.parse(marker.startedAt) < processStartedAtMs - PID_REUSE_SLACK_MS)) continue;
    if (!isOwnPid && isAlive(marker.pid)) continue;
    log(`removing the state folder '${folder}' of an earlier run of '${marker.jobName}' (process ${marker.pid} is gone)`);
    await removeStateRunFolder(folder, log);
  }
}

/** When this process started (wall clock). */
const processStartedAtMs = Date.now() - process.uptime() * 1000;
/** Clock slack when telling an earlier process with this pid from this one. */
const PID_REUSE_SLACK_MS = 1_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
