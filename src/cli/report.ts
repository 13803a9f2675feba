import { formatDuration } from '../core/duration.ts';
import { MAX_WATERMARK, MIN_WATERMARK } from '../core/time.ts';
import type { JobProgress, JobResult } from '../runtime/local-executor.ts';

/**
 * The progress line: elapsed time, records read and written, rate, the sinks' watermark, the last
 * completed checkpoint (`checkpoint 12 (84 ms, 1.2 MB)`) when the job checkpoints, and the consumer
 * lag of sources that report it (`lag orders-0:12 orders-1:0`).
 */
export function formatProgress(progress: JobProgress, elapsedMs: number): string {
  const parts = [
    `[${formatDuration(Math.round(elapsedMs / 1000) * 1000)}]`,
    `in ${formatCount(progress.recordsIn)} (${formatCount(Math.round(progress.recordsInPerSecond))}/s)`,
    `out ${formatCount(progress.recordsOut)}`,
    `watermark ${formatWatermark(progress.watermarkMs)}`,
  ];
  const checkpoint = progress.lastCheckpoint;
  if (checkpoint !== undefined) {
    const size =
      checkpoint.writtenBytes < checkpoint.totalBytes
        ? `${formatBytes(checkpoint.writtenBytes)} of ${formatBytes(checkpoint.totalBytes)}`
        : formatBytes(checkpoint.totalBytes);
    parts.push(`checkpoint ${checkpoint.checkpointId} (${formatCount(checkpoint.durationMs)} ms, ${size})`);
  }
  const lag = formatLag(progress.sources.flatMap((source) => source.splitLags ?? []));
  if (lag !== undefined) parts.push(lag);
  return parts.join(' · ');
}

/** Splits listed one by one in the progress line; beyond that, the total and the largest. */
const MAX_LISTED_SPLIT_LAGS = 4;

/**
 * Consumer lag for the progress line: `lag orders-0:12 orders-1:0` (by split, `orders-2` before
 * `orders-10`), or with many splits `lag 1,234 (max orders-3:800)`; undefined when no source reports lag.
 */
export function formatLag(splitLags: ReadonlyArray<readonly [splitId: string, lagRecords: number]>): string | undefined {
  if (splitLags.length === 0) return undefined;
  const sorted = [...splitLags].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  if (sorted.length <= MAX_LISTED_SPLIT_LAGS) {
    return `lag ${sorted.map(([splitId, lag]) => `${splitId}:${formatCount(lag)}`).join(' ')}`;
  }
  let total = 0;
  let max = sorted[0]!;
  for (const entry of sorted) {
    total += entry[1];
    if (entry[1] > max[1]) max = entry;
  }
  return `lag ${formatCount(total)} (max ${max[0]}:${formatCount(max[1])})`;
}

/** Bytes for people, decimal units: `512 B`, `1.2 kB`, `1.2 MB`, `3.4 GB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1_000;
  let unit = 0;
  while (value >= 1_000 && unit < units.length - 1) {
    value /= 1_000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** The end-of-run summary: per operator, records in and out, late and bad records. */
export function formatSummary(result: JobResult): string {
  const rows: string[][] = [
    ['operator', 'uid', 'p', 'in', 'out', 'late dropped', 'late side-out', 'side-out unread', 'bad skipped', 'bad dead-lettered'],
  ];
  for (const operator of result.operators) {
    const m = operator.metrics;
    rows.push([
      operator.name,
      operator.uid,
      String(operator.parallelism),
      formatCount(m.recordsIn),
      formatCount(m.recordsOut),
      formatCount(m.lateRecordsDropped),
      formatCount(m.lateRecordsSideOutput),
      formatCount(m.sideOutputDiscarded),
      formatCount(m.badRecordsSkipped),
      formatCount(m.badRecordsDeadLettered),
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const table = rows.map((row) => row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
  return `job '${result.jobName}' finished in ${formatDuration(result.durationMs)}\n${table.join('\n')}\n`;
}

/** A count with thousands separators (`1,234,567`), independent of the machine's locale. */
export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

/**
 * A watermark for people: an ISO-8601 UTC instant, `none yet` before the first one, `end of input` at the max
 * watermark.
 */
export function formatWatermark(watermarkMs: number): string {
  if (watermarkMs <= MIN_WATERMARK) return 'none yet';
  if (watermarkMs >= MAX_WATERMARK) return 'end of input';
  return new Date(watermarkMs).toISOString();
}
