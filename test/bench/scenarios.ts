import { cpus, loadavg } from 'node:os';

/** One benchmark scenario: a job exported by bench-jobs.ts and how many events it runs. */
export interface Scenario {
  readonly id: string;
  /** The table's row label. */
  readonly title: string;
  /** What the job does, for the table's footnotes. */
  readonly details: string;
  readonly exportName: string;
  readonly count: number;
  readonly quickCount: number;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'map-filter',
    title: '(a) map ▶ filter',
    details: 'stateless map then filter (keeps 3 of 4), no watermarks',
    exportName: 'mapFilter',
    count: 30_000_000,
    quickCount: 3_000_000,
  },
  {
    id: 'tumbling-count',
    title: '(b) keyed tumbling count',
    details: '10k string keys, 1 s event-time windows, 1,000 events per ms of event time (100 per key and window), count aggregate',
    exportName: 'tumblingCount',
    count: 5_000_000,
    quickCount: 500_000,
  },
  {
    id: 'sliding-average',
    title: '(c) sliding 1 h / 10 min average',
    details: '1k sensors, one event per 10 ms of event time (each window: ~360 per sensor), sum+count aggregate and a process function',
    exportName: 'slidingAverage',
    count: 2_000_000,
    quickCount: 200_000,
  },
  {
    id: 'session-count',
    title: '(d) session windows',
    details: '10k users drawn at random, one event per ms of event time, 5 s gap (≈40 % of events merge into an open session), count aggregate',
    exportName: 'sessionCount',
    count: 3_000_000,
    quickCount: 300_000,
  },
];

/** What one child process measured. */
export interface Measurement {
  readonly scenario: string;
  readonly parallelism: number;
  /** 0: every task in the measuring thread. */
  readonly workers: number;
  /** Records emitted by the source. */
  readonly events: number;
  /** Records that reached the sink. */
  readonly recordsOut: number;
  /** The measured interval: the whole `executeJob` call in-process; on workers, from the first progress report with records to the end. */
  readonly measuredMs: number;
  readonly eventsPerSecond: number;
  /** The whole `executeJob` call. */
  readonly totalMs: number;
  /**
   * CPU time of the whole process (all threads, user + system) during `executeJob`. Less sensitive to
   * other load on the machine than wall time; in-process, events / CPU time is the cost per event.
   */
  readonly cpuMs: number;
  /** On workers: from `executeJob` to the first progress report with records (worker startup, an upper bound). */
  readonly startupMs: number | undefined;
  /** `process.resourceUsage().maxRSS` at the end (whole process, all threads). */
  readonly maxRssMb: number;
  /** Highest RSS and main-thread heap seen by a 50 ms sampler. */
  readonly sampledPeakRssMb: number;
  readonly sampledPeakHeapMb: number;
}

export function machineDescription(): string {
  const cores = cpus();
  return `${cores[0]?.model.trim() ?? 'unknown CPU'}, ${cores.length} cores, Node ${process.version}, ${process.platform}/${process.arch}`;
}

function formatRate(eventsPerSecond: number): string {
  if (eventsPerSecond >= 1_000_000) return `${(eventsPerSecond / 1_000_000).toFixed(2)} M`;
  return `${Math.round(eventsPerSecond / 1_000)} k`;
}

/** The markdown table (with the machine and the method underneath) that the README takes verbatim. */
export function formatTable(rows: readonly Measurement[], startup: Measurement | undefined, runs: number): string {
  const lines = [
    '| scenario | parallelism | events | events/s | peak RSS (maxRSS) | sampled peak RSS / heap |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const scenario = SCENARIOS.find((s) => s.id === row.scenario)!;
    const where = row.workers === 0 ? '1 (in-process)' : `${row.parallelism} (${row.workers} worker threads)`;
    lines.push(
      `| ${scenario.title} | ${where} | ${row.events.toLocaleString('en-US')} | ${formatRate(row.eventsPerSecond)} | ` +
        `${row.maxRssMb} MB | ${row.sampledPeakRssMb} / ${row.sampledPeakHeapMb} MB |`,
    );
  }
  const load = loadavg()[0]!.toFixed(2);
  lines.push('', `Machine: ${machineDescription()}; 1-minute load average ${load} when the table was printed.`, '');
  const used = new Set(rows.map((row) => row.scenario));
  for (const scenario of SCENARIOS) {
    if (used.has(scenario.id)) lines.push(`- ${scenario.title}: ${scenario.details}.`);
  }
  lines.push(
    '- Every scenario: generator source (4 splits) ▶ operators ▶ a discarding sink, through `executeJob`, each run in a fresh ' +
      'process; peak RSS is that process\'s `maxRSS` (all threads), the sampled heap is the main thread\'s.',
    '- Parallelism 1 runs every task in one thread (`workers: 0`) and times the whole run. Parallelism 2 runs on two worker ' +
      'threads and times from the first progress report that shows records (reports every 20 ms) to the end, so worker ' +
      'startup (each worker loads TypeScript through tsx) is excluded' +
      (startup === undefined ? '.' : `; an empty job on two workers takes ${Math.round(startup.totalMs)} ms from start to finish.`),
  );
  if (runs > 1) lines.push(`- Best of ${runs} runs.`);
  return lines.join('\n');
}
