import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { extractEngineOptions } from '../../src/cli/engine-options.ts';
import { main, type CliIo } from '../../src/cli/main.ts';
import { formatBytes, formatProgress } from '../../src/cli/report.ts';
import { ConfigurationError } from '../../src/core/errors.ts';

const temps: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function runCli(args: readonly string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { out: (text) => void (stdout += text), err: (text) => void (stderr += text), isErrTty: false };
  const exitCode = await main(args, io);
  return { exitCode, stdout, stderr };
}

const engine = (options: Record<string, string | true>) => extractEngineOptions(new Map(Object.entries(options))).engine;

describe('checkpoint engine options', () => {
  it('a checkpoint dir turns exactly-once checkpointing on, every 10 s, with exponential-delay restarts', () => {
    expect(engine({ 'checkpoint-dir': '/tmp/c' }).checkpoint).toEqual({
      mode: 'exactly-once',
      dir: '/tmp/c',
      intervalMs: 10_000,
      restartStrategy: { kind: 'exponential-delay', initialMs: 1_000, maxMs: 60_000 },
    });
    expect(engine({}).checkpoint).toBeUndefined();
    expect(engine({ 'checkpoint-dir': '/tmp/c', checkpointing: 'off' }).checkpoint).toBeUndefined();
    expect(
      engine({ 'checkpoint-dir': '/tmp/c', checkpointing: 'at-least-once', 'checkpoint-interval': '500ms', 'restart-strategy': 'none' })
        .checkpoint,
    ).toEqual({ mode: 'at-least-once', dir: '/tmp/c', intervalMs: 500, restartStrategy: { kind: 'none' } });
    expect(engine({ 'from-checkpoint': '/tmp/c/chk-000003' }).fromCheckpoint).toBe('/tmp/c/chk-000003');
  });

  it.each([
    [{ checkpointing: 'exactly-once' }, /--checkpointing exactly-once needs a directory: add --checkpoint-dir <folder>/],
    [{ checkpointing: 'sometimes', 'checkpoint-dir': 'c' }, /--checkpointing must be exactly-once, at-least-once or off, got 'sometimes'/],
    [{ 'restart-strategy': 'fixed-delay' }, /restarts from checkpoints: add --checkpoint-dir <folder>/],
    [{ 'checkpoint-dir': 'c', 'checkpoint-interval': 'soon' }, /soon/],
    [{ 'checkpoint-dir': true }, /--checkpoint-dir needs a value/],
  ] as Array<[Record<string, string | true>, RegExp]>)('rejects %j with a sentence', (options, message) => {
    expect(() => engine(options)).toThrow(ConfigurationError);
    expect(() => engine(options)).toThrow(message);
  });

  it('the progress line shows the last completed checkpoint, its duration and size', () => {
    const line = formatProgress(
      {
        elapsedMs: 5_000,
        recordsIn: 10,
        recordsOut: 5,
        recordsInPerSecond: 2,
        sources: [],
        watermarkMs: Number.MIN_SAFE_INTEGER,
        lastCheckpoint: { checkpointId: 12, durationMs: 84, totalBytes: 1_234_567, writtenBytes: 1_234_567, isFinal: false },
      },
      5_000,
    );
    expect(line).toMatch(/ · checkpoint 12 \(84 ms, 1\.2 MB\)$/);
    const incremental = formatProgress(
      {
        elapsedMs: 5_000,
        recordsIn: 10,
        recordsOut: 5,
        recordsInPerSecond: 2,
        sources: [],
        watermarkMs: Number.MIN_SAFE_INTEGER,
        lastCheckpoint: { checkpointId: 13, durationMs: 90, totalBytes: 40_000_000, writtenBytes: 2_100_000, isFinal: false },
      },
      5_000,
    );
    expect(incremental).toMatch(/ · checkpoint 13 \(90 ms, 2\.1 MB of 40\.0 MB\)$/);
    expect([formatBytes(999), formatBytes(1_000), formatBytes(3_400_000_000)]).toEqual(['999 B', '1.0 kB', '3.4 GB']);
  });
});

describe('eddy run with checkpoints', () => {
  it('commits the same output as without checkpoints, and refuses to restore another job from it', async () => {
    const dir = tempDir('eddy-chk-cli-');
    const input = join(dir, 'words.txt');
    writeFileSync(input, 'Zebra apple\nzebra\nbanana apple zebra\n');
    const plain = await runCli(['run', 'wordcount', '--input', input, '--output', join(dir, 'plain.csv'), '--quiet', '--workers', '0']);
    expect(plain.exitCode, plain.stderr).toBe(0);
    const checkpointDir = join(dir, 'checkpoints');
    const outputDir = join(dir, 'checkpointed');
    const checkpointed = await runCli([
      'run', 'wordcount', '--input', input, '--output', outputDir, '--quiet', '--workers', '0', '--parallelism', '2',
      '--checkpoint-dir', checkpointDir, '--checkpoint-interval', '20ms',
    ]);
    expect(checkpointed.exitCode, checkpointed.stderr).toBe(0);
    const parts = readdirSync(outputDir).filter((name) => name.startsWith('part-'));
    const lines = parts.flatMap((name) => readFileSync(join(outputDir, name), 'utf8').split('\n').filter(Boolean));
    expect(lines).toEqual(readFileSync(join(dir, 'plain.csv'), 'utf8').split('\n').filter(Boolean));
    expect(readdirSync(checkpointDir).some((name) => /^chk-\d{6}$/.test(name))).toBe(true);

    const readings = join(dir, 'readings.jsonl');
    writeFileSync(readings, `${JSON.stringify({ sensor: 'a', ts: 1, value: 1 })}\n`);
    const foreign = await runCli([
      'run', 'moving-average', '--input', readings, '--output', join(dir, 'avg.jsonl'), '--workers', '0', '--from-checkpoint', checkpointDir,
    ]);
    expect(foreign.exitCode).toBe(2);
    expect(foreign.stderr).toMatch(/^eddy: cannot restore from checkpoint '.*chk-\d{6}': it belongs to job 'wordcount', not 'moving-average'/);
  });
});
