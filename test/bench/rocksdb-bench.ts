/**
 * The RocksDB state backend's benchmark, run by `npm run bench` (scenario `rocksdb`: (a) and (b); named
 * scenario `larger-than-memory`: (c), long) or on its own:
 * `node --import tsx test/bench/rocksdb-bench.ts [--quick] [--huge] [--huge-keys n] [--runs n]`. Every
 * measurement runs in a fresh child process (its peak RSS is its own), at parallelism 1 with every task
 * in one thread. Prints markdown tables for the README:
 *
 * (a) the keyed tumbling count of bench-jobs.ts (10k keys, the working set fits the cache) on the
 *     memory and the RocksDB backend: events/s and their ratio (target: RocksDB ≥ 40 % of memory);
 * (b) value-state updates on keys drawn at random from 1M (rocksdb-bench-jobs.ts) with a 32 MB state
 *     budget, so that most rows live only in RocksDB: updates/s per subtask (target ≥ 100k/s), peak RSS,
 *     the cache's counters (blocking misses against prefetched rows) and the state's peak size on disk;
 * (c) the larger-than-memory job of the tests (many-keys-job.ts) with 20M keys and a 100-byte payload
 *     per key (over 2 GB of state) through `eddy run` under a 512 MB heap and a 256 MB budget: run time,
 *     peak RSS and heap, peak state on disk, and whether the result was correct.
 *
 * Options: `--quick` (fewer events), `--runs n` (best of n for (a) and (b), default 1), `--huge` (run
 * (c) too), `--huge-keys n` (keys of (c), default 20M) and `--huge-state-memory size` (its budget,
 * default 256mb), both implying `--huge`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { JobModuleRef } from '../../src/api/job.ts';
import type { JobResult } from '../../src/runtime/job-metrics.ts';
import { buildJobGraph } from '../../src/runtime/job-loader.ts';
import { executeJob } from '../../src/runtime/local-executor.ts';
import type { StateCacheMetrics } from '../../src/state/rocksdb/write-back-cache.ts';
import type { StateBackendConfig } from '../../src/state/state-backend-config.ts';
import type { ManyKeysSummary } from '../state/rocksdb/fixtures/many-keys-job.ts';
import { runJsonChild } from './json-child.ts';
import { machineDescription, SCENARIOS } from './scenarios.ts';

const MB = 1024 * 1024;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BENCH_JOBS = fileURLToPath(new URL('./bench-jobs.ts', import.meta.url));
const ROCKSDB_BENCH_JOBS = fileURLToPath(new URL('./rocksdb-bench-jobs.ts', import.meta.url));
const MANY_KEYS_JOB = fileURLToPath(new URL('../state/rocksdb/fixtures/many-keys-job.ts', import.meta.url));
const REPORT_MEMORY = pathToFileURL(fileURLToPath(new URL('../state/rocksdb/fixtures/report-max-rss.mjs', import.meta.url))).href;
const BIN = path.join(ROOT, 'src/cli/bin.js');

const TUMBLING = SCENARIOS.find((scenario) => scenario.id === 'tumbling-count')!;
/** (a): RocksDB's cache budget; 10k keys × one open window take a few MB. */
const TUMBLING_STATE_MEMORY_BYTES = 64 * MB;
/** (b) */
const UPDATE_EVENTS = 3_000_000;
const UPDATE_QUICK_EVENTS = 500_000;
const UPDATE_STATE_MEMORY_BYTES = 32 * MB;
/** (c) */
const HUGE_KEYS = 20_000_000;
const HUGE_PAYLOAD_BYTES = 100;
const HUGE_HEAP_MB = 512;
const HUGE_STATE_MEMORY = '256mb';
/** How often the state folder's size on disk is sampled. */
const DISK_SAMPLE_MS = 1_000;

type Workload = 'tumbling' | 'updates';

/** What one child process measured for (a) or (b). */
interface Measurement {
  readonly workload: Workload;
  readonly backend: StateBackendConfig['kind'];
  /** Records emitted by the source. */
  readonly events: number;
  /** Records the keyed operator processed (state updates in (b)). */
  readonly keyedRecords: number;
  readonly ms: number;
  readonly cpuMs: number;
  readonly eventsPerSecond: number;
  readonly maxRssMb: number;
  readonly peakStateOnDiskMb: number;
  /** Summed over the run's RocksDB backends (read when each is disposed); undefined on memory. */
  readonly cache: StateCacheMetrics | undefined;
}

/** What (c) measured. */
interface HugeMeasurement {
  readonly keys: number;
  readonly ms: number;
  readonly exit: string;
  readonly isCorrect: boolean;
  readonly maxRssMb: number | undefined;
  readonly peakHeapMb: number | undefined;
  readonly peakStateOnDiskMb: number;
}

// ---- child side ----

/**
 * Sums the cache counters of every RocksDB backend of this process as it is disposed. The executor
 * creates and disposes the backends itself; wrapping `dispose` is the one place to read them.
 */
async function captureCacheMetrics(): Promise<{ readonly totals: StateCacheMetrics; seen: number }> {
  const { RocksDBStateBackend } = await import('../../src/state/rocksdb/rocksdb-state-backend.ts');
  const capture = {
    totals: { hits: 0, misses: 0, blockingScans: 0, prefetched: 0, prefetchDropped: 0, evictions: 0, rowsWritten: 0, bytesCached: 0 },
    seen: 0,
  };
  const dispose = RocksDBStateBackend.prototype.dispose;
  RocksDBStateBackend.prototype.dispose = function disposeAndCount(this: InstanceType<typeof RocksDBStateBackend>): void {
    const metrics = this.metrics;
    const totals = capture.totals;
    for (const name of Object.keys(totals) as Array<keyof StateCacheMetrics>) totals[name] += metrics[name];
    capture.seen++;
    dispose.call(this);
  };
  return capture;
}

/** Bytes of every file under `folder` (0 when it does not exist). */
function folderBytes(folder: string): number {
  let bytes = 0;
  let entries;
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(folder, entry.name);
    try {
      bytes += entry.isDirectory() ? folderBytes(full) : statSync(full).size;
    } catch {
      // Removed meanwhile (compaction, checkpoint clean-up).
    }
  }
  return bytes;
}

/** The largest size `folder` had, sampled every {@link DISK_SAMPLE_MS}. */
function sampleFolderSize(folder: string): { stop(): number } {
  let peakBytes = 0;
  const sample = (): void => {
    peakBytes = Math.max(peakBytes, folderBytes(folder));
  };
  const timer = setInterval(sample, DISK_SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      return peakBytes;
    },
  };
}

function operatorRecords(result: JobResult, kind: 'source' | 'keyed'): number {
  if (kind === 'source') return result.operators.filter((o) => o.kind === 'source').reduce((sum, o) => sum + o.metrics.recordsOut, 0);
  const keyed = result.operators.find((o) => o.uid === 'count-updates' || o.uid === 'count-per-second');
  return keyed?.metrics.recordsIn ?? 0;
}

async function measureInChild(workload: Workload, backendKind: StateBackendConfig['kind'], count: number): Promise<Measurement> {
  const ref: JobModuleRef =
    workload === 'tumbling'
      ? { modulePath: BENCH_JOBS, exportName: TUMBLING.exportName, rawArgs: { count } }
      : { modulePath: ROCKSDB_BENCH_JOBS, exportName: 'valueUpdates', rawArgs: { count } };
  const stateDir = mkdtempSync(path.join(tmpdir(), 'eddy-rocksdb-bench-'));
  try {
    const stateBackend: StateBackendConfig =
      backendKind === 'memory'
        ? { kind: 'memory' }
        : {
            kind: 'rocksdb',
            dir: stateDir,
            memoryBytes: workload === 'tumbling' ? TUMBLING_STATE_MEMORY_BYTES : UPDATE_STATE_MEMORY_BYTES,
          };
    const capture = backendKind === 'rocksdb' ? await captureCacheMetrics() : undefined;
    const graph = await buildJobGraph(ref, { jobName: `rocksdb-bench-${workload}`, parallelism: 1 });
    const disk = sampleFolderSize(stateDir);
    const startCpu = process.cpuUsage();
    const startMs = performance.now();
    const result = await executeJob(graph, { workers: 0, job: ref, stateBackend });
    const ms = performance.now() - startMs;
    const cpu = process.cpuUsage(startCpu);
    const peakStateBytes = disk.stop();
    const events = operatorRecords(result, 'source');
    if (events !== count) throw new Error(`${workload}: the source emitted ${events} records, expected ${count}`);
    if (capture !== undefined && capture.seen === 0) throw new Error(`${workload}: no RocksDB backend was disposed`);
    return {
      workload,
      backend: backendKind,
      events,
      keyedRecords: operatorRecords(result, 'keyed'),
      ms: Math.round(ms),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      eventsPerSecond: (events * 1000) / ms,
      maxRssMb: Math.round((process.resourceUsage().maxRSS * 1024) / MB),
      peakStateOnDiskMb: Math.round(peakStateBytes / MB),
      cache: capture?.totals,
    };
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

// ---- parent side ----

function runChild(workload: Workload, backend: StateBackendConfig['kind'], count: number): Promise<Measurement> {
  return runJsonChild<Measurement>(fileURLToPath(import.meta.url), ['--child', workload, backend, String(count)], `${workload} on ${backend}`);
}

async function bestOf(
  runs: number,
  workload: Workload,
  backend: StateBackendConfig['kind'],
  count: number,
  log: (line: string) => void,
): Promise<Measurement> {
  let best: Measurement | undefined;
  for (let run = 0; run < runs; run++) {
    const m = await runChild(workload, backend, count);
    log(
      `  ${workload} on ${backend}: ${Math.round(m.eventsPerSecond).toLocaleString('en-US')} events/s (${m.ms} ms, ` +
        `${m.cpuMs} ms CPU, peak RSS ${m.maxRssMb} MB${m.cache === undefined ? '' : `, cache ${JSON.stringify(m.cache)}`}); load ${load()}`,
    );
    if (best === undefined || m.eventsPerSecond > best.eventsPerSecond) best = m;
  }
  return best!;
}

/** (c): `eddy run many-keys-job.ts` in its own process, its state folder sampled from here. */
async function runHuge(keys: number, stateMemory: string): Promise<HugeMeasurement> {
  const folder = mkdtempSync(path.join(tmpdir(), 'eddy-rocksdb-huge-'));
  const stateDir = path.join(folder, 'state');
  const summaryPath = path.join(folder, 'summary.json');
  try {
    mkdirSync(stateDir);
    const args = [
      `--max-old-space-size=${HUGE_HEAP_MB}`,
      '--import',
      REPORT_MEMORY,
      BIN,
      'run',
      MANY_KEYS_JOB,
      '--state-backend',
      'rocksdb',
      '--state-dir',
      stateDir,
      '--state-memory',
      stateMemory,
      '--parallelism',
      '1',
      '--workers',
      '0',
      '--progress-interval',
      '60s',
      '--keys',
      String(keys),
      '--payload-bytes',
      String(HUGE_PAYLOAD_BYTES),
      '--summary',
      summaryPath,
    ];
    const disk = sampleFolderSize(stateDir);
    const startMs = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      process.stderr.write(text);
    });
    const exit = await new Promise<string>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(code === null ? String(signal) : String(code)));
    });
    const ms = Math.round(performance.now() - startMs);
    const peakStateBytes = disk.stop();
    const memory = /EDDY_MEMORY maxRssKb=(\d+) peakHeapKb=(\d+)/.exec(stderr);
    const summary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as ManyKeysSummary) : undefined;
    const isCorrect =
      summary !== undefined &&
      summary.count === keys &&
      summary.distinct === keys &&
      summary.duplicates === 0 &&
      summary.foreign === 0 &&
      summary.indexSum === (keys * (keys - 1)) / 2;
    return {
      keys,
      ms,
      exit,
      isCorrect,
      maxRssMb: memory === null ? undefined : Math.round(Number(memory[1]) / 1024),
      peakHeapMb: memory === null ? undefined : Math.round(Number(memory[2]) / 1024),
      peakStateOnDiskMb: Math.round(peakStateBytes / MB),
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

function load(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
}

function formatRate(perSecond: number): string {
  return perSecond >= 1_000_000 ? `${(perSecond / 1_000_000).toFixed(2)} M` : `${Math.round(perSecond / 1_000)} k`;
}

function formatTumbling(memory: Measurement, rocksdb: Measurement): string {
  const ratio = rocksdb.eventsPerSecond / memory.eventsPerSecond;
  return [
    '| (a) keyed tumbling count, 10k keys | events | events/s | vs memory | peak RSS |',
    '|---|---:|---:|---:|---:|',
    `| memory | ${memory.events.toLocaleString('en-US')} | ${formatRate(memory.eventsPerSecond)} | 100 % | ${memory.maxRssMb} MB |`,
    `| rocksdb (${TUMBLING_STATE_MEMORY_BYTES / MB} MB budget) | ${rocksdb.events.toLocaleString('en-US')} | ` +
      `${formatRate(rocksdb.eventsPerSecond)} | ${Math.round(ratio * 100)} % (target ≥ 40 %) | ${rocksdb.maxRssMb} MB |`,
  ].join('\n');
}

function formatUpdates(m: Measurement): string {
  const cache = m.cache!;
  const perSecond = (m.keyedRecords * 1000) / m.ms;
  return [
    '| (b) value updates, random keys over 1M | updates | updates/s per subtask | peak RSS | state on disk | blocking misses | prefetched rows |',
    '|---|---:|---:|---:|---:|---:|---:|',
    `| rocksdb (${UPDATE_STATE_MEMORY_BYTES / MB} MB budget), p=1 | ${m.keyedRecords.toLocaleString('en-US')} | ` +
      `${formatRate(perSecond)} (target ≥ 100 k) | ${m.maxRssMb} MB | ${m.peakStateOnDiskMb} MB | ` +
      `${cache.misses.toLocaleString('en-US')} | ${cache.prefetched.toLocaleString('en-US')} |`,
  ].join('\n');
}

function formatHuge(m: HugeMeasurement, stateMemory: string): string {
  return [
    `| (c) larger than memory: ${HUGE_PAYLOAD_BYTES}-byte payload per key, ${HUGE_HEAP_MB} MB heap, ${stateMemory} budget | keys | time | peak RSS | peak heap | peak state on disk | result |`,
    '|---|---:|---:|---:|---:|---:|---|',
    `| \`eddy run\` (exit ${m.exit}) | ${m.keys.toLocaleString('en-US')} | ${(m.ms / 1000).toFixed(0)} s | ${m.maxRssMb ?? '?'} MB | ${m.peakHeapMb ?? '?'} MB | ` +
      `${(m.peakStateOnDiskMb / 1024).toFixed(2)} GB | ${m.isCorrect ? 'correct' : 'WRONG or incomplete'} |`,
  ].join('\n');
}

/** What to run; see the file comment. */
export interface RocksDBBenchOptions {
  readonly quick: boolean;
  /** Run (a) and (b). */
  readonly throughput: boolean;
  /** Run (c). */
  readonly huge: boolean;
  readonly hugeKeys: number;
  /** `--state-memory` of (c). */
  readonly hugeStateMemory: string;
  readonly runs: number;
  readonly log: (line: string) => void;
}

export const DEFAULT_HUGE_KEYS = HUGE_KEYS;
export const DEFAULT_HUGE_STATE_MEMORY = HUGE_STATE_MEMORY;

function parseOptions(argv: readonly string[]): RocksDBBenchOptions {
  let quick = false;
  let huge = false;
  let hugeKeys = HUGE_KEYS;
  let hugeStateMemory = HUGE_STATE_MEMORY;
  let runs = 1;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--huge') huge = true;
    else if (arg === '--huge-keys') {
      huge = true;
      hugeKeys = Number(argv[++i]);
    } else if (arg === '--huge-state-memory') {
      huge = true;
      hugeStateMemory = argv[++i] ?? '';
    } else if (arg === '--runs') runs = Number(argv[++i]);
    else throw new Error(`unknown option ${arg}; see the comment at the top of test/bench/rocksdb-bench.ts`);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number ≥ 1');
  if (!Number.isInteger(hugeKeys) || hugeKeys < 1) throw new Error('--huge-keys takes a whole number ≥ 1');
  return { quick, throughput: true, huge, hugeKeys, hugeStateMemory, runs, log: (line) => console.error(line) };
}

/** Runs what `options` asks for; returns the markdown tables and notes. */
export async function benchRocksDB(options: RocksDBBenchOptions): Promise<string> {
  const log = options.log;
  const loadBefore = load();
  log(`rocksdb: ${machineDescription()}${options.quick ? ' — quick run' : ''}; load ${loadBefore}`);
  const tables: string[] = [];
  const updateEvents = options.quick ? UPDATE_QUICK_EVENTS : UPDATE_EVENTS;
  if (options.throughput) {
    const tumblingCount = options.quick ? TUMBLING.quickCount : TUMBLING.count;
    const memory = await bestOf(options.runs, 'tumbling', 'memory', tumblingCount, log);
    const rocksdb = await bestOf(options.runs, 'tumbling', 'rocksdb', tumblingCount, log);
    const updates = await bestOf(options.runs, 'updates', 'rocksdb', updateEvents, log);
    tables.push(formatTumbling(memory, rocksdb), formatUpdates(updates));
  }
  if (options.huge) {
    log(`  larger than memory: ${options.hugeKeys.toLocaleString('en-US')} keys (long) …`);
    tables.push(formatHuge(await runHuge(options.hugeKeys, options.hugeStateMemory), options.hugeStateMemory));
  }
  tables.push(
    `Machine: ${machineDescription()}; load average (1, 5, 15 min) ${loadBefore} at the start, ${load()} at the end.`,
    [
      ...(options.throughput
        ? [
            `- (a) ${TUMBLING.details}; generator source ▶ window ▶ discarding sink, \`executeJob\` at parallelism 1 in one thread.`,
            `- (b) ${updateEvents.toLocaleString('en-US')} records with keys drawn at random from 1M, ` +
              'a value-state counter read and written per record (keyed process function, rows read ahead per batch), a discarding sink. ' +
              'Blocking misses: reads no prefetch foresaw (≈ 0.2 ms each); state on disk: the largest size of the database folder, sampled each second.',
          ]
        : []),
      ...(options.huge
        ? [
            `- (c) \`eddy run\` of test/state/rocksdb/fixtures/many-keys-job.ts: 2 × keys events, every key seen twice, the second ` +
              `time after all first ones; value-state counter plus a ${HUGE_PAYLOAD_BYTES}-character payload state per key.`,
          ]
        : []),
      '- Each measurement in a fresh process; peak RSS is its `maxRSS` (all threads).',
      ...(options.runs > 1 && options.throughput ? [`- Best of ${options.runs} runs.`] : []),
    ].join('\n'),
  );
  return tables.join('\n\n');
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--child') {
    const m = await measureInChild(argv[1] as Workload, argv[2] as StateBackendConfig['kind'], Number(argv[3]));
    process.stdout.write(`${JSON.stringify(m)}\n`);
    return;
  }
  process.stdout.write(`${await benchRocksDB(parseOptions(argv))}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
