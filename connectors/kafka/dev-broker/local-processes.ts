import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The few process operations the development broker needs, on POSIX systems: is a pid alive, what is
 * its command line, end it (SIGTERM, then SIGKILL after a bound), run a short command to completion.
 * A pid alone proves nothing (pids are reused), so callers match the command line before signalling.
 */

/** How often waits in this module look again, in milliseconds. */
const POLL_INTERVAL_MS = 50;

/**
 * Whether a process with this pid exists and has not exited. A zombie (exited, not yet reaped by its
 * parent) counts as exited: it holds no ports and no files any more.
 */
export async function isProcessRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": comm may contain spaces and parentheses, the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // On Linux the process was reaped since kill(0) (node reaps its own children during the read).
    // Elsewhere there is no /proc: trust kill(0).
    return process.platform !== 'linux';
  }
}

/**
 * The command line of a running process, its arguments joined by single spaces, or undefined when
 * there is no such process. Reads /proc on Linux and asks `ps` elsewhere.
 */
export async function readCommandLine(pid: number): Promise<string | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.length === 0 ? undefined : raw.replace(/\0+$/, '').split('\0').join(' ');
  } catch (error) {
    if (process.platform === 'linux' || (error as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
  }
  const result = await runCommand('ps', ['-o', 'command=', '-p', String(pid)], { timeoutMs: 5_000 }).catch(() => undefined);
  const line = result?.output.trim();
  return result?.exitCode === 0 && line !== undefined && line.length > 0 ? line : undefined;
}

/** Waits until the process is gone; true if it went within `timeoutMs`. */
export async function waitForProcessExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isProcessRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(POLL_INTERVAL_MS);
  }
  return true;
}

/** How {@link terminateProcess} ended a process. */
export type TerminationOutcome = 'terminated' | 'killed' | 'not-running';

/**
 * Sends SIGTERM and waits up to `graceMs` for the process to exit; if it is still there, sends SIGKILL
 * and waits up to `killWaitMs` more. Throws if even SIGKILL did not end it (e.g. stuck in the kernel).
 */
export async function terminateProcess(pid: number, graceMs: number, killWaitMs = 5_000): Promise<TerminationOutcome> {
  if (!signal(pid, 'SIGTERM')) return 'not-running';
  if (await waitForProcessExit(pid, graceMs)) return 'terminated';
  if (!signal(pid, 'SIGKILL')) return 'terminated';
  if (await waitForProcessExit(pid, killWaitMs)) return 'killed';
  throw new Error(`process ${pid} is still running ${graceMs + killWaitMs} ms after SIGTERM and SIGKILL`);
}

/** Sends a signal; false if there was no such process. */
function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** What {@link runCommand} saw: the exit code (null if ended by a signal) and stdout + stderr interleaved. */
export interface CommandResult {
  readonly exitCode: number | null;
  readonly output: string;
  readonly isTimedOut: boolean;
}

/**
 * Runs a command to completion, collecting its output (the last `maxOutputChars` characters). After
 * `timeoutMs` it is killed with SIGKILL and the result says `isTimedOut`. Rejects only when the
 * command cannot be started at all (ENOENT: not on the PATH), with the spawn error.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { readonly timeoutMs: number; readonly cwd?: string; readonly maxOutputChars?: number },
): Promise<CommandResult> {
  const maxOutputChars = options.maxOutputChars ?? 64_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let isTimedOut = false;
    const append = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.length > 2 * maxOutputChars) output = output.slice(-maxOutputChars);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const timer = setTimeout(() => {
      isTimedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, output: output.slice(-maxOutputChars), isTimedOut });
    });
  });
}
