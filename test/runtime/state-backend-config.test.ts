import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { extractEngineOptions } from '../../src/cli/engine-options.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { resolveStateBackend } from '../../src/runtime/state-backend-factory.ts';
import { createStateRunFolder, removeStateRunFolder, stateBackendFolder } from '../../src/runtime/state-run-folder.ts';
import { defaultStateMemoryBytes } from '../../src/state/state-backend-config.ts';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'eddy-state-dir-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const engine = (...args: string[]) => {
  const options = new Map<string, string | true>();
  for (let i = 0; i < args.length; i += 2) options.set(args[i]!, args[i + 1]!);
  return extractEngineOptions(options).engine;
};

describe('resolveStateBackend: the run over the job over the defaults', () => {
  it('defaults to memory', () => {
    expect(resolveStateBackend(undefined)).toEqual({ kind: 'memory' });
    expect(resolveStateBackend({ kind: 'memory' }, {})).toEqual({ kind: 'memory' });
  });

  it("takes the job's rocksdb settings, and the run's over them", () => {
    const job = { kind: 'rocksdb' as const, dir: '/data/state', memory: '64mb' };
    expect(resolveStateBackend(job)).toEqual({ kind: 'rocksdb', dir: '/data/state', memoryBytes: 64 * 1024 ** 2 });
    expect(resolveStateBackend(job, { memoryBytes: 32 * 1024 ** 2 })).toEqual({ kind: 'rocksdb', dir: '/data/state', memoryBytes: 32 * 1024 ** 2 });
    expect(resolveStateBackend(job, { kind: 'memory' })).toEqual({ kind: 'memory' });
    expect(resolveStateBackend({ kind: 'memory' }, { kind: 'rocksdb' })).toEqual({
      kind: 'rocksdb',
      dir: os.tmpdir(),
      memoryBytes: defaultStateMemoryBytes(),
    });
  });

  it('refuses rocksdb settings for a memory run, and budgets below 1 MiB', () => {
    expect(() => resolveStateBackend(undefined, { dir: '/x' })).toThrow(
      /--state-dir configures the rocksdb state backend, but this run uses memory: add --state-backend rocksdb/,
    );
    expect(() => resolveStateBackend({ kind: 'rocksdb' }, { memoryBytes: 1000 })).toThrow(/--state-memory must be at least 1mb/);
  });

  it('defaults the budget to a quarter of the heap limit, at least 16 MiB', () => {
    expect(defaultStateMemoryBytes()).toBeGreaterThanOrEqual(16 * 1024 ** 2);
  });
});

describe('eddy run --state-backend, --state-dir, --state-memory', () => {
  it('parses them into overrides', () => {
    expect(engine('state-backend', 'rocksdb', 'state-dir', 'relative/state', 'state-memory', '32mb').stateBackend).toEqual({
      kind: 'rocksdb',
      dir: path.resolve('relative/state'),
      memoryBytes: 32 * 1024 ** 2,
    });
    expect(engine().stateBackend).toBeUndefined();
  });

  it.each([
    [['state-backend', 'leveldb'], /--state-backend must be memory or rocksdb, got 'leveldb'/],
    [['state-backend', 'memory', 'state-dir', '/x'], /--state-dir configures the rocksdb state backend, not memory/],
    [['state-backend', 'rocksdb', 'state-memory', 'plenty'], /--state-memory must be a size such as 256mb/],
  ])('rejects %j', (args, message) => {
    expect(() => engine(...args)).toThrow(ConfigurationError);
    expect(() => engine(...args)).toThrow(message);
  });
});

describe('state run folders', () => {
  const quiet = (): void => {};

  it('creates a folder per run inside the state dir, and removes it', async () => {
    const dir = tempDir();
    const folder = await createStateRunFolder(dir, 'word count', quiet);
    expect(path.dirname(folder)).toBe(dir);
    expect(path.basename(folder)).toMatch(new RegExp(`^eddy-word%20count-${process.pid}-\\d+$`));
    expect(stateBackendFolder(folder, 'counts/a', 1, 2)).toBe(path.join(folder, 'counts%2Fa', 'subtask-1-attempt-2'));
    await removeStateRunFolder(folder, quiet);
    expect(existsSync(folder)).toBe(false);
  });

  it('names a missing state dir or a file in place of one', async () => {
    const dir = tempDir();
    await expect(createStateRunFolder(path.join(dir, 'nope'), 'job', quiet)).rejects.toThrow(
      `state dir '${path.join(dir, 'nope')}' does not exist; create it or choose another --state-dir`,
    );
    writeFileSync(path.join(dir, 'file'), 'x');
    await expect(createStateRunFolder(path.join(dir, 'file'), 'job', quiet)).rejects.toThrow(/is not a folder; choose another --state-dir/);
  });

  it('removes folders of dead processes of this host, and keeps live and foreign ones', async () => {
    const dir = tempDir();
    const marker = (name: string, hostname: string, pid: number, startedAt = ''): string => {
      const folder = path.join(dir, name);
      mkdirSync(folder);
      writeFileSync(path.join(folder, '_eddy-run.json'), JSON.stringify({ hostname, pid, jobName: 'job', startedAt }));
      return name;
    };
    const deadPid = 2 ** 22 + 12345; // above Linux's pid_max default range used here: never alive
    const dead = marker(`eddy-job-${deadPid}-1`, os.hostname(), deadPid);
    const live = marker(`eddy-job-${process.ppid}-2`, os.hostname(), process.ppid);
    const foreign = marker(`eddy-job-${deadPid}-3`, 'another-host', deadPid);
    mkdirSync(path.join(dir, 'eddy-job-1-4')); // no marker: not ours to judge
    // This process's pid, but from before it started: an earlier process that had the same pid (a
    // restarted container); one of this process's own runs (started after it) stays.
    const startedAtMs = Date.now() - process.uptime() * 1000;
    const reused = marker(`eddy-job-${process.pid}-5`, os.hostname(), process.pid, new Date(startedAtMs - 60_000).toISOString());
    const own = marker(`eddy-job-${process.pid}-6`, os.hostname(), process.pid, new Date().toISOString());
    const lines: string[] = [];
    const folder = await createStateRunFolder(dir, 'job', (line) => lines.push(line));
    expect(readdirSync(dir).sort()).toEqual([live, foreign, own, 'eddy-job-1-4', path.basename(folder)].sort());
    expect(readdirSync(dir)).not.toContain(dead);
    expect(readdirSync(dir)).not.toContain(reused);
    expect(lines.sort()).toEqual(
      [
        `removing the state folder '${path.join(dir, dead)}' of an earlier run of 'job' (process ${deadPid} is gone)`,
        `removing the state folder '${path.join(dir, reused)}' of an earlier run of 'job' (process ${process.pid} is gone)`,
      ].sort(),
    );
  });
});
