import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, type CliIo } from '../../src/cli/main.ts';

/** A seeded PRNG (mulberry32) so test data is reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `eddy-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function writeJsonLines(file: string, records: readonly unknown[]): void {
  writeFileSync(file, records.map((record) => JSON.stringify(record)).join('\n') + '\n');
}

/** The lines of an output file, or of all part files of an output directory. */
export function readOutputLines(target: string): string[] {
  if (!existsSync(target)) return [];
  const files = statSync(target).isDirectory()
    ? readdirSync(target).filter((name) => !name.startsWith('.')).map((name) => path.join(target, name))
    : [target];
  return files.flatMap((file) => readFileSync(file, 'utf8').split('\n').filter((line) => line !== ''));
}

export function readJsonLines<T>(target: string): T[] {
  return readOutputLines(target).map((line) => JSON.parse(line) as T);
}

/** Sorts canonical JSON strings so two outputs compare as multisets. */
export function asMultiset(records: readonly unknown[]): string[] {
  return records.map((record) => canonicalJson(record)).sort();
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `eddy <args>` in this process (the same code path as the binary, minus process spawning). */
export async function runCli(args: readonly string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    out: (text) => {
      stdout += text;
    },
    err: (text) => {
      stderr += text;
    },
    isErrTty: false,
  };
  const exitCode = await main(args, io);
  return { exitCode, stdout, stderr };
}
