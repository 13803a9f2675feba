import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CliRun } from '../jobs/job-test-support.ts';

export { makeTempDir, readJsonLines, readOutputLines, removeDir, runCli, writeJsonLines } from '../jobs/job-test-support.ts';
export type { CliRun } from '../jobs/job-test-support.ts';

/** The repository root (where package.json and src/cli/bin.js are). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Runs the real binary (`node src/cli/bin.js <args>`) in a child process and waits for it to exit. */
export function spawnEddy(args: readonly string[], options: { readonly cwd?: string } = {}): Promise<CliRun> {
  return spawnNode([BIN, ...args], options);
}

export function spawnNode(args: readonly string[], options: { readonly cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === null) reject(new Error(`eddy was killed by ${signal ?? 'a signal'}; stderr: ${stderr}`));
      else resolve({ exitCode: code, stdout, stderr });
    });
  });
}

/** One row of the end-of-run summary table, by operator uid. */
export interface SummaryRow {
  readonly name: string;
  readonly uid: string;
  readonly parallelism: number;
  readonly recordsIn: number;
  readonly recordsOut: number;
  readonly lateDropped: number;
  readonly lateSideOutput: number;
  readonly sideOutputUnread: number;
  readonly badSkipped: number;
  readonly badDeadLettered: number;
}

const SUMMARY_HEADER = /^operator\s{2,}uid\s{2,}p\s{2,}in\s{2,}out\s{2,}late dropped\s{2,}late side-out\s{2,}side-out unread\s{2,}bad skipped\s{2,}bad dead-lettered$/;

/**
 * Parses the summary table that `eddy run` prints on stderr (columns are separated by at least two
 * spaces; counts carry thousands separators). Fails when there is no summary.
 */
export function parseSummary(stderr: string): Map<string, SummaryRow> {
  const lines = stderr.split('\n');
  const header = lines.findIndex((line) => SUMMARY_HEADER.test(line));
  if (header === -1) throw new Error(`no end-of-run summary in:\n${stderr}`);
  const rows = new Map<string, SummaryRow>();
  for (const line of lines.slice(header + 1)) {
    if (line.trim() === '') break;
    const cells = line.trim().split(/\s{2,}/);
    if (cells.length !== 10) throw new Error(`summary row with ${cells.length} cells: ${line}`);
    const count = (index: number): number => Number(cells[index]!.replaceAll(',', ''));
    rows.set(cells[1]!, {
      name: cells[0]!,
      uid: cells[1]!,
      parallelism: count(2),
      recordsIn: count(3),
      recordsOut: count(4),
      lateDropped: count(5),
      lateSideOutput: count(6),
      sideOutputUnread: count(7),
      badSkipped: count(8),
      badDeadLettered: count(9),
    });
  }
  return rows;
}

/** The progress lines of a run: `[elapsed] · in N (R/s) · out M · watermark W`. */
export const PROGRESS_LINE = /^\[[^\]]+\] · in [\d,]+ \([\d,]+\/s\) · out [\d,]+ · watermark (none yet|end of input|\d{4}-\d\d-\d\dT[\d:.]+Z)$/;

export function progressLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => PROGRESS_LINE.test(line));
}

/** No stack trace: a user sees a sentence. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+:\d+:\d+\)?$/m.test(text);
}
