import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ManyKeysSummary } from './fixtures/many-keys-job.ts';

/**
 * The acceptance for state larger than memory: 2M distinct keys under `--max-old-space-size=128`
 * and a 32 MB state budget finish with correct results and a peak RSS under a stated ceiling. A real
 * `eddy run` process (the CLI, the RocksDB backend in its state I/O thread); the job
 * (fixtures/many-keys-job.ts) sees every key twice, the second time after all first ones, so all 2M
 * keys are live in state at once. The same run on the memory backend runs out of heap: the state does
 * not fit in memory.
 */

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = path.join(ROOT, 'src/cli/bin.js');
const JOB = fileURLToPath(new URL('./fixtures/many-keys-job.ts', import.meta.url));
const REPORT_MEMORY = pathToFileURL(fileURLToPath(new URL('./fixtures/report-max-rss.mjs', import.meta.url))).href;

const KEYS = 2_000_000;
/**
 * Peak RSS ceiling of the whole process (all threads: the 128 MB heap, RocksDB's memtables and table
 * readers, the I/O thread). Measured 294 and 299 MB (maxRSS) on the 2-core machine, in 39 and 49 s under
 * a load of 2–3.5 (peak heap ≈ 100 MB); the ceiling leaves ~35 % margin.
 */
const MAX_RSS_CEILING_MB = 400;
/** The run takes ~40 s on a busy 2-core machine; past this it is killed and the test fails. */
const RUN_DEADLINE_MS = 150_000;

const root = mkdtempSync(path.join(tmpdir(), 'eddy-larger-than-memory-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly elapsedMs: number;
  /** From the preloaded reporter; undefined when the process died before its exit handler ran. */
  readonly maxRssMb: number | undefined;
  readonly peakHeapMb: number | undefined;
}

/** `node --max-old-space-size=128 src/cli/bin.js run many-keys-job.ts …`, killed at the deadline. */
function runManyKeys(name: string, backendArgs: readonly string[]): Promise<RunResult> {
  const summary = path.join(root, `${name}.json`);
  const args = [
    '--max-old-space-size=128',
    '--import',
    REPORT_MEMORY,
    BIN,
    'run',
    JOB,
    ...backendArgs,
    '--parallelism',
    '1',
    '--workers',
    '0',
    '--quiet',
    '--keys',
    String(KEYS),
    '--summary',
    summary,
  ];
  const startMs = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => void (stderr += text));
  const deadline = setTimeout(() => child.kill('SIGKILL'), RUN_DEADLINE_MS);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      const memory = /EDDY_MEMORY maxRssKb=(\d+) peakHeapKb=(\d+)/.exec(stderr);
      resolve({
        code,
        signal,
        stderr,
        elapsedMs: Math.round(performance.now() - startMs),
        maxRssMb: memory === null ? undefined : Math.round(Number(memory[1]) / 1024),
        peakHeapMb: memory === null ? undefined : Math.round(Number(memory[2]) / 1024),
      });
    });
  });
}

function readSummary(name: string): ManyKeysSummary | undefined {
  const file = path.join(root, `${name}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ManyKeysSummary) : undefined;
}

describe('RocksDB state larger than memory', () => {
  it(
    `${KEYS.toLocaleString('en-US')} keys finish under a 128 MB heap and a 32 MB state budget, correct and under ${MAX_RSS_CEILING_MB} MB RSS`,
    async () => {
      const stateDir = mkdtempSync(path.join(root, 'state-'));
      const run = await runManyKeys('rocksdb', ['--state-backend', 'rocksdb', '--state-dir', stateDir, '--state-memory', '32mb']);
      console.log(
        `larger than memory: ${KEYS} keys on rocksdb in ${run.elapsedMs} ms, exit ${run.code ?? run.signal}, ` +
          `peak RSS ${run.maxRssMb} MB, peak heap ${run.peakHeapMb} MB`,
      );
      expect(run.code, `eddy run failed:\n${run.stderr.slice(-3000)}`).toBe(0);
      expect(readSummary('rocksdb')).toEqual({
        count: KEYS,
        distinct: KEYS,
        duplicates: 0,
        foreign: 0,
        indexSum: (KEYS * (KEYS - 1)) / 2,
      } satisfies ManyKeysSummary);
      expect(run.maxRssMb).toBeDefined();
      expect(run.maxRssMb!).toBeLessThan(MAX_RSS_CEILING_MB);
      // The run's folder inside --state-dir is removed when the run ends.
      expect(readdirSync(stateDir)).toEqual([]);
    },
    RUN_DEADLINE_MS + 10_000,
  );

  it('the same run on the memory backend runs out of heap (the state does not fit in memory)', async () => {
    const run = await runManyKeys('memory', ['--state-backend', 'memory']);
    console.log(`larger than memory: ${KEYS} keys on memory: exit ${run.code ?? run.signal} after ${run.elapsedMs} ms`);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/heap out of memory/);
    expect(readSummary('memory')).toBeUndefined();
  });
});

