/**
 * Scenarios of rocks-store.test.ts that need a process or thread of their own. As a process:
 * `node --import tsx rocks-store.fixture.ts <mode> <folder>`; as a worker thread: workerData
 * `{ mode: 'worker', folder }` (through a tsx bootstrap). Results are printed as one JSON line (or
 * posted to the parent thread).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { EddyError } from '../../../src/core/errors.ts';
import { openRocksStoreSync, stateIoThreadId } from '../../../src/state/rocksdb/store/rocks-store-client.ts';
import type { RocksStore } from '../../../src/state/rocksdb/rocks-store.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | null | undefined): string | null => (value == null ? null : new TextDecoder().decode(value));

/** Writes `count` puts of `valueBytes` each into `family`, 100 per request. */
async function fill(store: RocksStore, family: string, count: number, valueBytes: number, prefix = 'k'): Promise<void> {
  const value = new Uint8Array(valueBytes).fill(7);
  for (let i = 0; i < count; i += 100) {
    const writes = [];
    for (let j = i; j < Math.min(count, i + 100); j++) writes.push({ kind: 'put' as const, columnFamily: family, key: bytes(`${prefix}${j}`), value });
    await store.write(writes);
  }
}

function errorInfo(error: unknown): Record<string, unknown> {
  return error instanceof EddyError
    ? { isEddyError: true, message: error.message, domain: error.domain, isRetriable: error.isRetriable }
    : { isEddyError: false, message: String(error) };
}

/** Holds the database open until killed. */
function holdLock(folder: string): void {
  openRocksStoreSync({ path: folder, columnFamilies: ['a'] });
  process.stdout.write('ready\n');
  setInterval(() => undefined, 60_000);
}

/**
 * Two stores share one I/O thread; one is closed, the other is left open; an awaited write must
 * complete although the I/O thread is unref'd; then the process must end by itself.
 */
async function exitNaturally(folder: string): Promise<void> {
  const first = openRocksStoreSync({ path: path.join(folder, 'one'), columnFamilies: ['a'] });
  const firstThread = stateIoThreadId();
  const second = openRocksStoreSync({ path: path.join(folder, 'two'), columnFamilies: ['a'] });
  const isShared = firstThread !== undefined && stateIoThreadId() === firstThread;
  await first.close();
  await second.write([{ kind: 'put', columnFamily: 'a', key: bytes('k'), value: bytes('v') }]);
  console.log(JSON.stringify({ isShared, written: text(second.multiGetSync('a', [bytes('k')])[0]) }));
}

/**
 * The full-disk paths, with `folder` a 4 MiB tmpfs and `folder/read-only` a read-only one: (0) a
 * store cannot be created on the read-only one, (1) a checkpoint from the local disk into it
 * (hard links fail across file systems: copies) succeeds while it fits, (2) one that does not fit is
 * declined and the database stays usable (resume ran), (3) a database on it fills up: the write fails
 * as disk-full, the store is dead, later requests fail at once, close settles within its bound.
 */
async function diskFull(folder: string): Promise<void> {
  const result: Record<string, unknown> = {};
  try {
    openRocksStoreSync({ path: path.join(folder, 'read-only', 'db'), columnFamilies: ['a'] });
    result.readOnly = { failed: false };
  } catch (error) {
    result.readOnly = { failed: true, ...errorInfo(error) };
  }
  const local = path.join(tmpdir(), `eddy-rocks-enospc-${process.pid}`);
  rmSync(local, { recursive: true, force: true });
  try {
    const store = openRocksStoreSync({ path: local, columnFamilies: ['a'], writeBufferBytes: 1 << 20 });
    await fill(store, 'a', 100, 1000);
    const small = await store.checkpoint(path.join(folder, 'small'));
    result.smallCheckpoint = { files: small.files.length, onTmpfs: readdirSync(path.join(folder, 'small')).length };
    rmSync(path.join(folder, 'small'), { recursive: true });
    // ~6 MiB of nearly incompressible values (compression is off): more than the tmpfs holds.
    const noise = new Uint8Array(4000);
    const writes = [];
    for (let i = 0; i < 1500; i++) {
      for (let j = 0; j < noise.length; j++) noise[j] = (i * 31 + j * 17) & 0xff;
      writes.push({ kind: 'put' as const, columnFamily: 'a', key: bytes(`big${i}`), value: noise.slice() });
    }
    await store.write(writes);
    try {
      await store.checkpoint(path.join(folder, 'big'));
      result.bigCheckpoint = { failed: false };
    } catch (error) {
      result.bigCheckpoint = { failed: true, ...errorInfo(error), targetLeft: readdirSync(folder).includes('big') };
    }
    await store.write([{ kind: 'put', columnFamily: 'a', key: bytes('after'), value: bytes('ok') }]);
    result.usableAfterDeclinedCheckpoint = text(store.multiGetSync('a', [bytes('after')])[0]);
    await store.close();
  } finally {
    rmSync(local, { recursive: true, force: true });
  }

  // Ballast, removed at the end: RocksDB may hold back a write until space returns (see below).
  const ballast = path.join(folder, 'ballast');
  writeFileSync(ballast, new Uint8Array(512 * 1024).fill(1));
  const full = openRocksStoreSync({ path: path.join(folder, 'db'), columnFamilies: ['a'], writeBufferBytes: 256 * 1024 });
  // 60 writes of 400 KiB (24 MiB) made at once: the I/O thread runs them in order; the first that hits
  // the full disk fails, and every later one is refused there because of it.
  const value = new Uint8Array(4096).fill(7);
  const requests = Array.from({ length: 60 }, (_, round) =>
    full.write(Array.from({ length: 100 }, (_, i) => ({ kind: 'put' as const, columnFamily: 'a', key: bytes(`w${round}-${i}`), value }))),
  );
  const outcomes = await Promise.allSettled(requests);
  const firstRejected = outcomes.findIndex((outcome) => outcome.status === 'rejected');
  result.writesBeforeFailure = firstRejected;
  result.firstFailure = firstRejected < 0 ? { failed: false } : { failed: true, ...errorInfo((outcomes[firstRejected] as PromiseRejectedResult).reason) };
  result.inFlightAfterFailure = outcomes.slice(firstRejected + 1).map((outcome) =>
    outcome.status === 'rejected' ? errorInfo(outcome.reason).message : 'fulfilled',
  );
  let startMs = performance.now();
  try {
    await full.write([{ kind: 'put', columnFamily: 'a', key: bytes('x'), value: bytes('y') }]);
    result.laterWrite = { failed: false };
  } catch (error) {
    result.laterWrite = { failed: true, ...errorInfo(error), ms: performance.now() - startMs };
  }
  startMs = performance.now();
  try {
    full.multiGetSync('a', [bytes('x')]);
    result.laterRead = { failed: false };
  } catch (error) {
    result.laterRead = { failed: true, ...errorInfo(error), ms: performance.now() - startMs };
  }
  startMs = performance.now();
  await full.close();
  result.closeMs = performance.now() - startMs;
  result.threadAfterClose = stateIoThreadId() ?? null;
  console.log(JSON.stringify(result));
  // A write that RocksDB held back in a write stall when the disk filled (its flush failed while the
  // write waited) stays in RocksDB until space returns, and the process cannot end before: free some,
  // as an operator would; RocksDB notices within seconds, completes the write and the thread ends.
  rmSync(ballast);
}

/** The basic operations from a worker thread; posts what it saw. */
async function inWorker(folder: string): Promise<void> {
  const store = openRocksStoreSync({ path: path.join(folder, 'db'), columnFamilies: ['a'] });
  const written = store.write([
    { kind: 'put', columnFamily: 'a', key: bytes('k1'), value: bytes('v1') },
    { kind: 'put', columnFamily: 'a', key: bytes('k2'), value: bytes('v2') },
  ]);
  const sync = store.multiGetSync('a', [bytes('k1'), bytes('k3')]).map(text);
  await written;
  const scanned = (await store.scan({ columnFamily: 'a', gte: bytes('k'), lt: bytes('l') })).keys.map(text);
  const checkpoint = await store.checkpoint(path.join(folder, 'checkpoint'));
  await store.close();
  parentPort?.postMessage({ sync, scanned, checkpointFiles: checkpoint.files.map((f) => f.name), threadAfterClose: stateIoThreadId() ?? null });
}

if (isMainThread) {
  const [mode, folder] = process.argv.slice(2);
  if (folder === undefined) throw new Error('usage: rocks-store.fixture.ts <mode> <folder>');
  mkdirSync(folder, { recursive: true });
  switch (mode) {
    case 'hold-lock':
      holdLock(folder);
      break;
    case 'exit-naturally':
      await exitNaturally(folder);
      break;
    case 'disk-full':
      await diskFull(folder);
      break;
    default:
      writeFileSync(2, `unknown mode ${mode}\n`);
      process.exitCode = 2;
  }
} else {
  const data = workerData as { mode: string; folder: string };
  await inWorker(data.folder);
}
