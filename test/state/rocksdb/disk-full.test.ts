import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * A full disk under RocksDB state, for real: `eddy run` runs in a user + mount namespace whose state
 * dir is a 6 MiB tmpfs (`unshare --user --map-root-user --mount`, no root needed), so RocksDB's writes
 * fail with ENOSPC as they would on a full disk. The job must fail over cleanly — a restart, then a
 * failure naming the full state dir — and lose nothing: resumed from its checkpoints on a roomy disk,
 * its exactly-once output is exactly the keys, each once.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const JOB = fileURLToPath(new URL('./fixtures/payload-keys-job.ts', import.meta.url));
const KEYS = 60_000;
const dir = mkdtempSync(path.join(tmpdir(), 'eddy-disk-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(command: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function committedKeys(output: string): string[] {
  return readdirSync(output)
    .filter((name) => name.startsWith('part-'))
    .flatMap((name) => readFileSync(path.join(output, name), 'utf8').split('\n').filter(Boolean));
}

describe('rocksdb state dir running out of space', () => {
  it('fails over cleanly, names the full state dir, and a resume from its checkpoints loses nothing', async () => {
    const tmpfs = path.join(dir, 'small-disk');
    mkdirSync(tmpfs);
    const output = path.join(dir, 'out');
    const checkpoints = path.join(dir, 'chk');
    const jobArgs = ['--keys', String(KEYS), '--payload-bytes', '120', '--output', output];
    const engine = ['--parallelism', '1', '--workers', '0', '--quiet', '--checkpoint-dir', checkpoints, '--checkpoint-interval', '100ms'];
    const script = 'mount -t tmpfs -o size=6m tmpfs "$0" && shift && exec "$@"';
    const first = await run('unshare', [
      '--user',
      '--map-root-user',
      '--mount',
      'sh',
      '-c',
      script,
      tmpfs,
      process.execPath,
      'src/cli/bin.js',
      'run',
      JOB,
      ...engine,
      '--state-backend',
      'rocksdb',
      '--state-dir',
      tmpfs,
      '--restart-strategy',
      'fixed-delay:attempts=1,delay=0s',
      '--rate',
      '60000',
      ...jobArgs,
    ]);
    expect(first.stderr, 'the test needs `unshare --user --mount` and tmpfs to make a full disk').not.toMatch(/unshare:|mount:/);
    expect(first.code).not.toBe(0);
    expect(first.stderr).toMatch(/restarting job from (chk-\d{6}|the beginning) \(attempt 2\) after: .*full/);
    expect(first.stderr).toMatch(new RegExp(`${tmpfs.replaceAll('/', '\\/')}.*full|full.*${tmpfs.replaceAll('/', '\\/')}`));

    // Nothing was lost: resumed on a disk with room, the output is every key exactly once.
    const hasCheckpoint = readdirSync(checkpoints).some((name) => name.startsWith('chk-'));
    expect(hasCheckpoint, 'checkpoints completed before the disk filled up').toBe(true);
    const roomy = mkdtempSync(path.join(dir, 'roomy-'));
    const second = await run(process.execPath, [
      'src/cli/bin.js',
      'run',
      JOB,
      ...engine,
      '--state-backend',
      'rocksdb',
      '--state-dir',
      roomy,
      '--from-checkpoint',
      checkpoints,
      '--rate',
      '1000000',
      ...jobArgs,
    ]);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const keys = committedKeys(output);
    expect(keys.length).toBe(KEYS);
    expect(new Set(keys).size).toBe(KEYS);
  }, 180_000);
});
