import { fileURLToPath } from 'node:url';
import type { JobModuleRef } from '../../src/api/job.ts';
import { buildJobGraph } from '../../src/runtime/job-loader.ts';
import { executeJob, type JobProgress, type JobResult } from '../../src/runtime/local-executor.ts';
import { SCENARIOS, type Measurement } from './scenarios.ts';

const JOBS_MODULE = fileURLToPath(new URL('./bench-jobs.ts', import.meta.url));
const SAMPLE_INTERVAL_MS = 50;
/** Worker metrics reach the main thread this often; bounds how stale the first progress report is. */
const PROGRESS_INTERVAL_MS = 20;

const MB = 1024 * 1024;

/** Highest RSS and heap seen; samples only when the event loop turns (between task batches). */
class MemorySampler {
  peakRss = 0;
  peakHeap = 0;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
  }

  sample(): void {
    const usage = process.memoryUsage();
    if (usage.rss > this.peakRss) this.peakRss = usage.rss;
    if (usage.heapUsed > this.peakHeap) this.peakHeap = usage.heapUsed;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

function sumSourceRecords(result: JobResult): number {
  return result.operators.filter((o) => o.kind === 'source').reduce((sum, o) => sum + o.metrics.recordsOut, 0);
}

function sinkRecords(result: JobResult): number {
  return result.operators.filter((o) => o.kind === 'sink').reduce((sum, o) => sum + o.metrics.recordsIn, 0);
}

/**
 * Runs scenario `id` (or `empty`) once at `parallelism` in this process: in-process at parallelism 1,
 * on `parallelism` worker threads otherwise.
 */
export async function measureInChild(id: string, parallelism: number, count: number): Promise<Measurement> {
  const exportName = id === 'empty' ? 'empty' : SCENARIOS.find((s) => s.id === id)?.exportName;
  if (exportName === undefined) throw new Error(`unknown scenario ${id}`);
  const ref: JobModuleRef = { modulePath: JOBS_MODULE, exportName, rawArgs: { count } };
  const graph = await buildJobGraph(ref, { jobName: id, parallelism });
  const workers = parallelism === 1 ? 0 : parallelism;
  let firstReport: { atMs: number; recordsIn: number } | undefined;
  const onProgress = (progress: JobProgress): void => {
    if (firstReport === undefined && progress.recordsIn > 0) firstReport = { atMs: performance.now(), recordsIn: progress.recordsIn };
  };
  const sampler = new MemorySampler();
  const startCpu = process.cpuUsage();
  const startMs = performance.now();
  const result = await executeJob(graph, {
    workers,
    job: ref,
    ...(workers > 0 ? { onProgress, progressIntervalMs: PROGRESS_INTERVAL_MS } : {}),
  });
  const endMs = performance.now();
  const cpu = process.cpuUsage(startCpu);
  sampler.stop();
  const events = sumSourceRecords(result);
  if (events !== count) throw new Error(`${id}: the source emitted ${events} records, expected ${count}`);
  const totalMs = endMs - startMs;
  const measured =
    workers > 0 && firstReport !== undefined
      ? { ms: endMs - firstReport.atMs, events: events - firstReport.recordsIn }
      : { ms: totalMs, events };
  return {
    scenario: id,
    parallelism,
    workers,
    events,
    recordsOut: sinkRecords(result),
    measuredMs: Math.round(measured.ms),
    eventsPerSecond: measured.ms > 0 ? (measured.events * 1000) / measured.ms : 0,
    totalMs: Math.round(totalMs),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    startupMs: workers > 0 && firstReport !== undefined ? Math.round(firstReport.atMs - startMs) : undefined,
    maxRssMb: Math.round((process.resourceUsage().maxRSS * 1024) / MB),
    sampledPeakRssMb: Math.round(sampler.peakRss / MB),
    sampledPeakHeapMb: Math.round(sampler.peakHeap / MB),
  };
}
