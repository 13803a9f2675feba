import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generatorSource } from '../../connectors/generator/index.ts';
import { fileSink } from '../../connectors/file/index.ts';
import { StreamEnvironment } from '../../src/api/stream-environment.ts';
import type { CheckpointMetadata } from '../../src/checkpoint/checkpoint-metadata.ts';
import { nodeCheckpointFileSystem, type CheckpointFileSystem } from '../../src/checkpoint/checkpoint-file-system.ts';
import { executeJob } from '../../src/runtime/local-executor.ts';
import { WatermarkStrategy } from '../../src/time/watermark-strategy.ts';
import { TumblingEventTimeWindows } from '../../src/windows/index.ts';

interface Row {
  readonly key: string;
  readonly n: number;
  readonly ts: number;
}

const temps: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function committedLines(outputDir: string): string[] {
  return readdirSync(outputDir)
    .filter((name) => name.startsWith('part-'))
    .flatMap((name) => readFileSync(join(outputDir, name), 'utf8').split('\n').filter(Boolean))
    .sort();
}

/** `fast` (a few records, ends at once) and `slow` (paced over ~0.8 s) ▶ union ▶ keyed windowed sums ▶ files. */
function buildJob(outputDir: string) {
  const env = new StreamEnvironment({ jobName: 'two-sources', parallelism: 2 });
  const strategy = WatermarkStrategy.forMonotonousTimestamps<Row>().withTimestampAssigner((row) => row.ts);
  const fast = env.fromSource(
    generatorSource<Row>({ count: 200, splits: 2, generate: (i) => ({ key: `f${i % 3}`, n: i, ts: i * 40 }) }),
    strategy,
    { uid: 'fast' },
  );
  const slow = env.fromSource(
    generatorSource<Row>({ count: 8_000, splits: 2, ratePerSecond: 10_000, generate: (i) => ({ key: `s${i % 7}`, n: i, ts: i }) }),
    strategy,
    { uid: 'slow' },
  );
  fast
    .union(slow)
    .keyBy((row) => row.key)
    .window(TumblingEventTimeWindows.of(1_000))
    .reduce((a, b) => ({ key: a.key, n: a.n + b.n, ts: Math.max(a.ts, b.ts) }))
    .uid('sums')
    .sinkTo(fileSink<Row>({ path: outputDir, format: 'json-lines' }), { uid: 'out' });
  return env.getStreamGraph();
}

function readMetadata(checkpointDir: string): CheckpointMetadata[] {
  return readdirSync(checkpointDir)
    .filter((name) => /^chk-\d{6}$/.test(name))
    .map((name) => JSON.parse(readFileSync(join(checkpointDir, name, '_metadata'), 'utf8')) as CheckpointMetadata);
}

describe('checkpointing: faults and finished sources', () => {
  it('checkpoints keep completing after one source finished while the other runs', async () => {
    const outputDir = tempDir('eddy-chk-out-');
    const checkpointDir = tempDir('eddy-chk-');
    await executeJob(buildJob(outputDir), {
      workers: 0,
      checkpointing: { mode: 'exactly-once', dir: checkpointDir, intervalMs: 20, retained: 1_000 },
    });
    const checkpoints = readMetadata(checkpointDir);
    const isFinished = (metadata: CheckpointMetadata, uid: string): boolean =>
      metadata.operators.find((operator) => operator.uid === uid)!.subtasks.every((handle) => handle.isFinished);
    const midway = checkpoints.filter((metadata) => isFinished(metadata, 'fast') && !isFinished(metadata, 'slow'));
    expect(midway.length).toBeGreaterThan(0);
    const final = checkpoints.reduce((a, b) => (a.checkpointId > b.checkpointId ? a : b));
    expect(final.operators.every((operator) => operator.subtasks.every((handle) => handle.isFinished))).toBe(true);
    const rows = committedLines(outputDir).map((line) => JSON.parse(line) as Row);
    expect(rows.reduce((sum, row) => sum + row.n, 0)).toBe((200 * 199) / 2 + (8_000 * 7_999) / 2);
  });

  it('state files that cannot be written (ENOSPC) decline checkpoints without losing or duplicating output', async () => {
    const reference = tempDir('eddy-chk-ref-');
    await executeJob(buildJob(reference), { workers: 0, checkpointing: { mode: 'exactly-once', dir: tempDir('eddy-chk-'), intervalMs: 20 } });

    const outputDir = tempDir('eddy-chk-out-');
    let failedWrites = 0;
    /** Fails every write of a state file of checkpoints 2 to 6, as a full disk would. */
    const fullDisk: CheckpointFileSystem = {
      ...nodeCheckpointFileSystem,
      async writeFileDurably(path, data) {
        const id = Number(/chk-(\d{6})/.exec(path)?.[1] ?? '0');
        if (id >= 2 && id <= 6 && basename(dirname(path)) !== 'enumerators' && (path.endsWith('.keyed') || path.endsWith('.operator'))) {
          failedWrites++;
          throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC' });
        }
        return nodeCheckpointFileSystem.writeFileDurably(path, data);
      },
    };
    const log: string[] = [];
    await executeJob(buildJob(outputDir), {
      workers: 0,
      log: (line) => log.push(line),
      checkpointing: { mode: 'exactly-once', dir: tempDir('eddy-chk-'), intervalMs: 20, tolerableFailures: 10, fs: fullDisk },
    });
    expect(failedWrites).toBeGreaterThan(0);
    expect(log.some((line) => /^checkpoint [2-6] aborted: declined by task .*ENOSPC/.test(line))).toBe(true);
    expect(committedLines(outputDir)).toEqual(committedLines(reference));
  });
});
