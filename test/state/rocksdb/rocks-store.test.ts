import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EddyError } from '../../../src/core/errors.ts';
import type { RocksCheckpoint, RocksStore, RocksStoreOptions, RocksWrite } from '../../../src/state/rocksdb/rocks-store.ts';
import { openRocksStoreSync, stateIoThreadId } from '../../../src/state/rocksdb/store/rocks-store-client.ts';
import { materializeCheckpoint } from '../../../src/state/rocksdb/native-state.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./rocks-store.fixture.ts', import.meta.url));
const TS_WORKER_BOOTSTRAP = fileURLToPath(new URL('../../connectors/collect/ts-worker-bootstrap.mjs', import.meta.url));

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | null | undefined): string | null => (value == null ? null : new TextDecoder().decode(value));
const put = (columnFamily: string, key: string, value: string): RocksWrite => ({ kind: 'put', columnFamily, key: bytes(key), value: bytes(value) });

let root: string;
const openStores: RocksStore[] = [];

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'eddy-rocks-store-'));
});
afterEach(async () => {
  await Promise.all(openStores.splice(0).map((store) => store.close()));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

let folderCount = 0;
function freshFolder(): string {
  return path.join(root, `db-${folderCount++}`);
}

function open(options: Partial<RocksStoreOptions> & { readonly path: string }): RocksStore {
  const store = openRocksStoreSync({ columnFamilies: ['a'], ...options });
  openStores.push(store);
  return store;
}

async function close(store: RocksStore): Promise<void> {
  openStores.splice(openStores.indexOf(store), 1);
  await store.close();
}

/** Every entry of a family as `key=value` strings, in key order. */
function dump(store: RocksStore, columnFamily: string): string[] {
  const { keys, values } = store.scanSync({ columnFamily, gte: new Uint8Array(0), lt: new Uint8Array([0xff, 0xff, 0xff]) });
  return keys.map((key, i) => `${text(key)}=${text(values[i])}`);
}

/** The error `action` throws, which must be an EddyError. */
function errorOf(action: () => unknown): EddyError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(EddyError);
    return error as EddyError;
  }
  throw new Error('expected an error');
}

/** Copies a checkpoint's files into a fresh folder (what a restore does). */
/** As a restore does it: the files copied into a fresh folder, each write-ahead log put together from its chunks. */
function restoreCopy(checkpointDir: string, checkpoint: RocksCheckpoint): string {
  const target = freshFolder();
  materializeCheckpoint(checkpoint.files.map((file) => ({ name: file.name, path: path.join(checkpointDir, file.name) })), target);
  return target;
}

/** A chunk of a write-ahead log in a checkpoint: `<log>.<start>-<end>`. */
const LOG_CHUNK = /^\d+\.log\.\d+-\d+$/;

/** Runs a scenario of the fixture in a child process (`node --import tsx`, from the repository root). */
function spawnFixture(mode: string, folder: string): ChildProcess {
  return spawnChild(process.execPath, ['--import', 'tsx', FIXTURE, mode, folder]);
}

function spawnChild(file: string, args: readonly string[]): ChildProcess {
  return spawn(file, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Waits for a child to exit; its stdout, stderr and exit code. */
function completion(child: ChildProcess, timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null; ms: number }> {
  const startMs = performance.now();
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, ms: performance.now() - startMs });
    });
  });
}

describe('RocksStore: reads and writes', () => {
  it('puts, deletes, multi-gets and scans in bytewise key order', async () => {
    const store = open({ path: freshFolder(), columnFamilies: ['a', 'b'] });
    expect(store.columnFamilies).toEqual(['a', 'b']);
    const keys = [[0xff], [0x00, 0xff], [0x80], [0x00], [0x7f, 0x01], [0x7f]].map((k) => new Uint8Array([0x10, ...k]));
    await store.write(keys.map((key, i) => ({ kind: 'put', columnFamily: 'a', key, value: bytes(`v${i}`) })));
    await store.write([put('b', 'only-in-b', 'x'), put('a', 'empty', ''), put('a', 'gone', 'soon'), { kind: 'delete', columnFamily: 'a', key: bytes('gone') }]);

    const scanned = store.scanSync({ columnFamily: 'a', gte: new Uint8Array([0x10]), lt: new Uint8Array([0x11]) });
    const expected = [...keys].sort(Buffer.compare);
    expect(scanned.keys.map((k) => [...k])).toEqual(expected.map((k) => [...k]));
    expect(scanned.values.map(text)).toEqual(expected.map((k) => `v${keys.indexOf(k)}`));
    const limited = await store.scan({ columnFamily: 'a', gte: new Uint8Array([0x10, 0x7f]), lt: new Uint8Array([0x11]), limit: 2 });
    expect(limited.keys.map((k) => [...k])).toEqual([[0x10, 0x7f], [0x10, 0x7f, 0x01]]);
    // An empty lower bound is the smallest key; an empty upper bound holds nothing below it.
    expect(store.scanSync({ columnFamily: 'a', gte: new Uint8Array(0), lt: new Uint8Array([0x10, 0x00, 0xff]) }).keys.map((k) => [...k])).toEqual([[0x10, 0x00]]);
    expect(store.scanSync({ columnFamily: 'a', gte: new Uint8Array(0), lt: new Uint8Array(0) }).keys).toEqual([]);
    expect(store.scanSync({ columnFamily: 'a', gte: bytes('z'), lt: bytes('a') }).keys).toEqual([]);
    expect(store.scanSync({ columnFamily: 'a', gte: new Uint8Array(0), lt: bytes('zz'), limit: 0 }).keys).toEqual([]);

    // null for absent, an empty array for an empty value, per family.
    expect(store.multiGetSync('a', [bytes('empty'), bytes('gone'), bytes('only-in-b')]).map((v) => (v === null ? null : [...v]))).toEqual([[], null, null]);
    expect((await store.multiGet('b', [bytes('only-in-b'), bytes('empty')])).map(text)).toEqual(['x', null]);

    await store.write([{ kind: 'delete-range', columnFamily: 'a', key: new Uint8Array([0x10, 0x00]), end: new Uint8Array([0x10, 0x80]) }]);
    expect(store.scanSync({ columnFamily: 'a', gte: new Uint8Array([0x10]), lt: new Uint8Array([0x11]) }).keys.map((k) => [...k])).toEqual([
      [0x10, 0x80],
      [0x10, 0xff],
    ]);
  });

  it('multi-gets 10 000 keys in one request, values in key order of the request', async () => {
    const store = open({ path: freshFolder() });
    const writes: RocksWrite[] = [];
    for (let i = 0; i < 10_000; i++) writes.push(put('a', `key-${i}`, `value-${i}`));
    await store.write(writes);
    const wanted = Array.from({ length: 10_000 }, (_, i) => bytes(`key-${(i * 7919) % 12_000}`));
    const values = await store.multiGet('a', wanted);
    values.forEach((value, i) => {
      const id = (i * 7919) % 12_000;
      expect(text(value)).toBe(id < 10_000 ? `value-${id}` : null);
    });
  });

  it('runs the requests of a store in the order they were made, asynchronous and blocking alike', async () => {
    const store = open({ path: freshFolder() });
    const settled: number[] = [];
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 50; i++) writes.push(store.write([put('a', 'counter', String(i))]).then(() => void settled.push(i)));
    // Not awaited: the blocking read queues behind all 50 writes.
    expect(text(store.multiGetSync('a', [bytes('counter')])[0])).toBe('49');
    const read = store.multiGet('a', [bytes('counter')]);
    const last = store.write([put('a', 'counter', 'last')]);
    expect(text((await read)[0])).toBe('49');
    await Promise.all([...writes, last]);
    expect(settled).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(dump(store, 'a')).toEqual(['counter=last']);
  });

  it('adds column families on the fly, keeping data and queued writes; reopening finds them all', async () => {
    const folder = freshFolder();
    const store = open({ path: folder, columnFamilies: ['a'] });
    const pending = store.write([put('a', 'k', 'before')]);
    store.addColumnFamiliesSync(['b', 'a', 'c']);
    expect(store.columnFamilies).toEqual(['a', 'b', 'c']);
    await pending;
    await store.write([put('b', 'k', 'in-b')]);
    expect(dump(store, 'a')).toEqual(['k=before']);
    expect(dump(store, 'b')).toEqual(['k=in-b']);
    await close(store);

    // A database opens only with all of its families: the store lists them itself.
    const reopened = open({ path: folder, columnFamilies: ['c', 'd'] });
    expect(reopened.columnFamilies).toEqual(['a', 'b', 'c', 'd']);
    expect(dump(reopened, 'b')).toEqual(['k=in-b']);
  });

  it('rejects a request naming a family that is not open, naming the open ones', async () => {
    const store = open({ path: freshFolder(), columnFamilies: ['a'] });
    expect(errorOf(() => store.multiGetSync('x', [bytes('k')])).message).toMatch(/column family 'x' is not open \(open: a\)/);
    await expect(store.write([put('x', 'k', 'v')])).rejects.toThrow(/column family 'x' is not open/);
    expect(() => open({ path: freshFolder(), columnFamilies: ['default'] })).toThrow(/'default' cannot be a column family name/);
    // The store is still usable after a rejected request.
    await store.write([put('a', 'k', 'v')]);
    expect(dump(store, 'a')).toEqual(['k=v']);
  });
});

describe('RocksStore: checkpoints', () => {
  it('a restored checkpoint holds exactly the writes made before the checkpoint call', async () => {
    const store = open({ path: freshFolder(), columnFamilies: ['a', 'b', 'unused'] });
    const before: RocksWrite[] = [];
    for (let i = 0; i < 2000; i++) before.push(put(i % 2 === 0 ? 'a' : 'b', `k${String(i).padStart(5, '0')}`, `v${i}`));
    const written = store.write(before);
    const checkpointDir = path.join(root, `checkpoint-${folderCount++}`);
    const checkpointing = store.checkpoint(checkpointDir);
    // Made after the call, before it completes: not in the checkpoint.
    const after = store.write([put('a', 'k00000', 'changed'), put('a', 'late', 'x'), { kind: 'delete', columnFamily: 'b', key: bytes('k00001') }]);
    await written;
    const checkpoint = await checkpointing;
    await after;
    expect(checkpoint.columnFamilies).toEqual(['a', 'b', 'unused']);
    const names = checkpoint.files.map((f) => f.name);
    expect(names).toContain('CURRENT');
    expect(names.some((n) => n.startsWith('MANIFEST-'))).toBe(true);
    expect(names.some((n) => n.startsWith('OPTIONS-'))).toBe(true);
    expect(names.some((n) => n.endsWith('.log'))).toBe(false);
    for (const file of checkpoint.files) {
      expect(file.isImmutable).toBe(file.name.endsWith('.sst') || LOG_CHUNK.test(file.name));
      expect(statSync(path.join(checkpointDir, file.name)).size).toBe(file.bytes);
    }
    const expectedA = before.filter((w) => w.columnFamily === 'a').map((w) => `${text(w.key)}=${text((w as { value: Uint8Array }).value)}`);
    const expectedB = before.filter((w) => w.columnFamily === 'b').map((w) => `${text(w.key)}=${text((w as { value: Uint8Array }).value)}`);

    // As a restore does it: the files copied into a fresh folder, opened with the checkpoint's families.
    const restored = open({ path: restoreCopy(checkpointDir, checkpoint), columnFamilies: checkpoint.columnFamilies, mustExist: true });
    expect(dump(restored, 'a')).toEqual(expectedA);
    expect(dump(restored, 'b')).toEqual(expectedB);
    expect(restored.columnFamilies).toEqual(['a', 'b', 'unused']);
    // The live store has the later writes.
    expect(dump(store, 'a')).toContain('k00000=changed');

    // A copy opened without naming its families still opens with all of them.
    const unnamed = open({ path: restoreCopy(checkpointDir, checkpoint), columnFamilies: [], mustExist: true });
    expect([...unnamed.columnFamilies].sort()).toEqual(['a', 'b', 'unused']);
    expect(dump(unnamed, 'b')).toEqual(expectedB);
  });

  it('a second checkpoint reuses the files of the first and adds only what was written since', async () => {
    const store = open({ path: freshFolder(), columnFamilies: ['a', 'b'] });
    const writes: RocksWrite[] = [];
    for (let i = 0; i < 5000; i++) writes.push(put(i % 2 === 0 ? 'a' : 'b', `k${i}`, 'x'.repeat(50)));
    await store.write(writes);
    const first = await store.checkpoint(path.join(root, `checkpoint-${folderCount++}`));
    await store.write([put('a', 'k1', 'changed')]);
    const secondDir = path.join(root, `checkpoint-${folderCount++}`);
    const second = await store.checkpoint(secondDir);
    const firstImmutable = first.files.filter((f) => f.isImmutable);
    const secondImmutable = second.files.filter((f) => f.isImmutable);
    // No memtable flush per checkpoint: the writes are captured as a log chunk, the next one appends one.
    expect(firstImmutable.length).toBeGreaterThan(0);
    for (const file of firstImmutable) expect(secondImmutable).toContainEqual(file);
    const added = secondImmutable.filter((file) => !firstImmutable.some((f) => f.name === file.name));
    expect(added).toHaveLength(1);
    expect(added[0]!.name).toMatch(LOG_CHUNK);
    expect(added[0]!.bytes).toBeLessThan(200);
    const restored = open({ path: restoreCopy(secondDir, second), columnFamilies: second.columnFamilies, mustExist: true });
    expect(text(restored.multiGetSync('a', [bytes('k1')])[0])).toBe('changed');
    expect(text(restored.multiGetSync('b', [bytes('k4999')])[0])).toBe('x'.repeat(50));
  });

  it('refuses a target folder that exists, and the store stays usable', async () => {
    const store = open({ path: freshFolder() });
    const target = freshFolder();
    mkdirSync(target);
    await expect(store.checkpoint(target)).rejects.toThrow(/target folder exists already/);
    await store.write([put('a', 'k', 'v')]);
    expect(dump(store, 'a')).toEqual(['k=v']);
  });
});

describe('RocksStore: errors', () => {
  it('reports a folder locked by another process, which a SIGKILL releases', async () => {
    const folder = freshFolder();
    const holder = spawnFixture('hold-lock', folder);
    const exited = completion(holder, 20_000);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      holder.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('ready')) resolve();
      });
      holder.on('exit', (code) => reject(new Error(`lock holder exited early with ${code}`)));
    });
    try {
      const error = errorOf(() => open({ path: folder }));
      expect(error.message).toContain(`RocksDB state folder '${folder}' is locked: another Eddy process (or RocksDB user) holds ${folder}/LOCK`);
      expect(error.message).toContain('choose another --state-dir');
      expect(error.domain).toBe('external');
      expect(error.isRetriable).toBe(true);
    } finally {
      holder.kill('SIGKILL');
    }
    await exited;
    const store = open({ path: folder });
    expect(store.columnFamilies).toEqual(['a']);
  });

  it('reports a folder already open in this process', () => {
    const folder = freshFolder();
    open({ path: folder });
    expect(errorOf(() => open({ path: folder })).message).toMatch(/is already open in this process/);
  });

  it('reports a missing database when it must exist, creating nothing', () => {
    const empty = freshFolder();
    mkdirSync(empty);
    const error = errorOf(() => open({ path: empty, mustExist: true }));
    expect(error.message).toMatch(new RegExp(`RocksDB state folder '${empty}' holds no database but must.*no CURRENT file`));
    expect(readdirSync(empty)).toEqual([]);
    const missing = freshFolder();
    expect(errorOf(() => open({ path: missing, mustExist: true })).message).toMatch(/holds no database but must/);
  });

  it('reports a path that is a file', () => {
    const file = path.join(root, 'a-file');
    writeFileSync(file, 'x');
    const error = errorOf(() => open({ path: file }));
    expect(error.message).toMatch(new RegExp(`RocksDB state folder '${file}' is not a folder.*choose another --state-dir`));
    expect(error.domain).toBe('user');
    expect(errorOf(() => open({ path: path.join(file, 'below') })).message).toMatch(/is not a folder/);
  });

  it('reports a corrupt database', async () => {
    const folder = freshFolder();
    const store = open({ path: folder });
    await store.write([put('a', 'k', 'v')]);
    await close(store);
    const ssts = readdirSync(folder).filter((name) => name.endsWith('.sst'));
    expect(ssts.length).toBeGreaterThan(0);
    for (const name of ssts) writeFileSync(path.join(folder, name), Buffer.alloc(statSync(path.join(folder, name)).size, 0x41));
    const error = errorOf(() => open({ path: folder }));
    expect(error.message).toMatch(new RegExp(`RocksDB database in '${folder}' is corrupt or incomplete .*Bad table magic number.*restore from a checkpoint`));
  });

  it('on a full disk: the store dies, later requests fail at once, close settles, checkpoints to a full disk are declined; a read-only disk is refused', async () => {
    // A 4 MiB tmpfs in a private mount namespace (vanishes with the process; needs no root).
    const mountPoint = freshFolder();
    mkdirSync(mountPoint);
    const script =
      'mount -t tmpfs -o size=4m tmpfs "$0" && mkdir "$0/read-only" && mount -t tmpfs -o ro,size=64k tmpfs "$0/read-only" && exec "$1" --import tsx "$2" disk-full "$0"';
    const child = spawnChild('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script, mountPoint, process.execPath, FIXTURE]);
    // Generous: the child starts Node and tsx and fills a disk while the rest of the suite keeps both cores busy.
    const { stdout, stderr, code } = await completion(child, 100_000);
    expect(stderr, 'the test needs `unshare --user --mount` and tmpfs to inject ENOSPC').not.toMatch(/unshare|mount:/);
    expect(code).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, Record<string, unknown> & { message?: string; ms?: number }>;
    expect(result.readOnly).toMatchObject({ failed: true, isEddyError: true, domain: 'user' });
    expect(result.readOnly?.message).toMatch(new RegExp(`RocksDB state folder '${mountPoint}/read-only/db' is not writable .*read-only file system.*choose another --state-dir`));
    expect(result.smallCheckpoint).toEqual({ files: 4, onTmpfs: 4 });
    expect(result.bigCheckpoint).toMatchObject({ failed: true, isEddyError: true, domain: 'external', isRetriable: true, targetLeft: false });
    expect(result.bigCheckpoint?.message).toMatch(/checkpoint into .* failed: the disk is full .*the checkpoint is declined/);
    expect(result.usableAfterDeclinedCheckpoint).toBe('ok');
    expect(result.firstFailure).toMatchObject({ failed: true, isEddyError: true, domain: 'external', isRetriable: true });
    expect(result.firstFailure?.message).toMatch(new RegExp(`the disk holding RocksDB state '${mountPoint}/db' is full .*No space left on device.*the store is unusable`));
    expect(result.writesBeforeFailure).toBeGreaterThan(0);
    const inFlight = result.inFlightAfterFailure as unknown as string[];
    expect(inFlight.length).toBeGreaterThan(0);
    for (const message of inFlight) expect(message).toMatch(/failed earlier and is unusable \(write refused\): the disk holding .* is full \(an earlier request:/);
    for (const later of [result.laterWrite, result.laterRead]) {
      expect(later).toMatchObject({ failed: true, isEddyError: true, isRetriable: true });
      expect(later?.message).toMatch(/failed earlier and is unusable .*No space left on device/);
      expect(later?.ms).toBeLessThan(50);
    }
    expect(result.closeMs).toBeLessThan(3_000);
    expect(result.threadAfterClose).toBeNull();
  }, 120_000);
});

describe('RocksStore: threads', () => {
  it('stores of one thread share one I/O thread, which stops after the last close', async () => {
    const first = open({ path: freshFolder() });
    const threadId = stateIoThreadId();
    expect(threadId).toBeDefined();
    const others = Array.from({ length: 5 }, () => open({ path: freshFolder() }));
    expect(stateIoThreadId()).toBe(threadId);
    await Promise.all([first, ...others].map((store, i) => store.write([put('a', 'k', String(i))])));
    expect([first, ...others].map((store) => text(store.multiGetSync('a', [bytes('k')])[0]))).toEqual(['0', '1', '2', '3', '4', '5']);
    for (const store of [first, ...others]) await close(store);
    expect(stateIoThreadId()).toBeUndefined();
    await expect(first.write([put('a', 'k', 'v')])).rejects.toThrow(/is closed/);
    open({ path: freshFolder() });
    expect(stateIoThreadId()).not.toBe(threadId);
  });

  it('works from a worker thread', async () => {
    const folder = freshFolder();
    const worker = new Worker(TS_WORKER_BOOTSTRAP, { workerData: { module: new URL('./rocks-store.fixture.ts', import.meta.url).href, mode: 'worker', folder } });
    const message = await new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(message).toMatchObject({ sync: ['v1', null], scanned: ['k1', 'k2'], threadAfterClose: null });
    expect((message as { checkpointFiles: string[] }).checkpointFiles).toContain('CURRENT');
  });

  it('never keeps a process alive, yet an awaited request completes', async () => {
    const { stdout, stderr, code, ms } = await completion(spawnFixture('exit-naturally', freshFolder()), 20_000);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ isShared: true, written: 'v' });
    expect(ms).toBeLessThan(10_000);
  });
});
