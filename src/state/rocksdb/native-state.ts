import { appendFileSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { EddyError, describeError } from '../../core/errors.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import type { NativeKeyedStateRestore, NativeKeyedStateSnapshot, NativeStateKind } from '../keyed-state-backend.ts';
import { keyGroupBytes, STATE_ROWS_END, successor, TIMER_ROWS_END } from './key-layout.ts';
import type { OpenRocksStoreSync, RocksStore, RocksWrite } from './rocks-store.ts';

/**
 * Native (RocksDB) checkpoints and restores of one backend's database.
 *
 * A checkpoint is RocksDB's own files: the store hard-links the SST files into a capture folder next
 * to the database and adds what the write-ahead logs gained since the last capture as immutable chunks
 * (tens of ms, whatever the size of the state); the checkpoint layer stores each SST and chunk once
 * across checkpoints, so a checkpoint costs about what changed. A restore rebuilds the database from such
 * files: the old database whose key groups overlap this backend's most is copied in whole (SSTs
 * hard-linked: RocksDB never changes them) and its key groups outside the range are deleted (a range
 * deletion per state column family); rows of the key groups of other overlapping old databases are
 * copied over by scanning them (a rescale that merges subtasks).
 *
 * Column families: `s/<state>` hold state rows and `d/<map state>` the directory of non-empty maps (key
 * group first: a key group is one key range), `t/<queue>` timers (timestamp first: the key group is
 * bytes 8–9).
 */

/** Rows moved per blocking request while importing another database's key groups. */
const IMPORT_CHUNK = 8_192;

/** Where the capture of checkpoint `checkpointId` goes: next to the database folder. */
export function captureFolder(databasePath: string, checkpointId: number): string {
  return `${databasePath}.chk-${checkpointId}`;
}

/** Files the database got from a restore (name ▶ where it came from), for incremental reuse. */
export type RestoredFiles = ReadonlyMap<string, { readonly path: string; readonly sha256: string }>;

/**
 * Starts the capture of checkpoint `checkpointId`. The store runs requests in order, so the capture
 * holds every write issued before this call (the caller issues its dirty cache entries first) and none
 * issued after.
 */
export function captureNative(
  store: RocksStore,
  checkpointId: number,
  description: {
    readonly maxParallelism: number;
    readonly keyGroupRange: KeyGroupRange;
    readonly restoredFiles: RestoredFiles;
    readonly states: readonly NativeStateKind[];
  },
): Promise<NativeKeyedStateSnapshot> {
  const dir = captureFolder(store.path, checkpointId);
  return store.checkpoint(dir).then((checkpoint) => ({
    format: 'eddy-rocksdb/1',
    maxParallelism: description.maxParallelism,
    keyGroupRange: [description.keyGroupRange.start, description.keyGroupRange.end],
    databaseId: store.path,
    dir,
    columnFamilies: [...checkpoint.columnFamilies],
    states: [...description.states],
    files: checkpoint.files.map((file) => {
      const restoredFrom = file.isImmutable ? description.restoredFiles.get(file.name) : undefined;
      return {
        name: file.name,
        bytes: file.bytes,
        isImmutable: file.isImmutable,
        ...(restoredFrom === undefined ? {} : { restoredFrom }),
      };
    }),
  }));
}

/**
 * Builds the database at `databasePath` (which must not hold one) for `keyGroupRange` from old
 * subtasks' native snapshots and opens it. Blocking: restores run before any record.
 */
export function restoreNative(
  databasePath: string,
  snapshots: readonly NativeKeyedStateRestore[],
  keyGroupRange: KeyGroupRange,
  open: (options: { readonly path: string; readonly columnFamilies: readonly string[]; readonly mustExist: boolean }) => RocksStore,
): { readonly store: RocksStore; readonly restoredFiles: RestoredFiles } {
  const overlapping = snapshots.filter((snapshot) => overlap(snapshot, keyGroupRange) > 0);
  if (overlapping.length === 0) throw new EddyError(`no restored RocksDB state overlaps key groups ${keyGroupRange}`);
  const base = overlapping.reduce((best, next) => (overlap(next, keyGroupRange) > overlap(best, keyGroupRange) ? next : best));
  if (existsSync(databasePath)) {
    throw new EddyError(`cannot restore RocksDB state into '${databasePath}': the folder exists (a database of an earlier attempt?)`);
  }
  materializeCheckpoint(base.files, databasePath);
  const families = [...new Set(overlapping.flatMap((snapshot) => snapshot.columnFamilies))];
  const store = open({ path: databasePath, columnFamilies: families, mustExist: true });
  try {
    dropForeignKeyGroups(store, base, keyGroupRange);
    for (const other of overlapping) {
      if (other !== base) importKeyGroups(store, other, keyGroupRange, databasePath, open);
    }
  } catch (error) {
    store.closeSync();
    throw error;
  }
  const restoredFiles = new Map<string, { path: string; sha256: string }>();
  for (const file of base.files) if (file.name.endsWith('.sst')) restoredFiles.set(file.name, { path: file.path, sha256: file.sha256 });
  return { store, restoredFiles };
}

function overlap(snapshot: NativeKeyedStateRestore, range: KeyGroupRange): number {
  return Math.max(0, Math.min(snapshot.keyGroupRange[1], range.end) - Math.max(snapshot.keyGroupRange[0], range.start));
}

/** A chunk of a write-ahead log: bytes [start, end) of `log` (see the store's checkpoint). */
const LOG_CHUNK = /^(\d+\.log)\.(\d+)-(\d+)$/;

/**
 * SSTs hard-linked (copied across file systems), the small mutable files copied, each write-ahead log
 * put together from its chunks (which must cover it from byte 0 without gaps).
 */
export function materializeCheckpoint(files: ReadonlyArray<{ readonly name: string; readonly path: string }>, target: string): void {
  mkdirSync(target, { recursive: true });
  const logs = new Map<string, Array<{ readonly start: number; readonly end: number; readonly path: string }>>();
  for (const file of files) {
    const chunk = LOG_CHUNK.exec(file.name);
    if (chunk !== null) {
      let chunks = logs.get(chunk[1]!);
      if (chunks === undefined) logs.set(chunk[1]!, (chunks = []));
      chunks.push({ start: Number(chunk[2]), end: Number(chunk[3]), path: file.path });
      continue;
    }
    const to = path.join(target, file.name);
    try {
      if (file.name.endsWith('.sst')) linkOrCopy(file.path, to);
      else copyFileSync(file.path, to);
    } catch (error) {
      throw copyFailure(file.path, target, error);
    }
  }
  for (const [log, chunks] of logs) {
    chunks.sort((a, b) => a.start - b.start);
    let end = 0;
    for (const chunk of chunks) {
      if (chunk.start !== end) {
        throw new EddyError(`the checkpoint's write-ahead log '${log}' has a gap: bytes ${end}–${chunk.start} are missing`, { domain: 'external' });
      }
      end = chunk.end;
    }
    const to = path.join(target, log);
    try {
      for (const chunk of chunks) appendFileSync(to, readFileSync(chunk.path));
    } catch (error) {
      throw copyFailure(chunks[0]!.path, target, error);
    }
  }
}

function copyFailure(file: string, target: string, error: unknown): EddyError {
  return new EddyError(`could not copy checkpoint file '${file}' into '${target}': ${describeError(error)}`, {
    domain: 'external',
    isRetriable: true,
    cause: error,
  });
}

function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw error;
    copyFileSync(from, to);
  }
}

/** Deletes what `snapshot`'s database holds outside `range` (its old subtask owned more key groups). */
function dropForeignKeyGroups(store: RocksStore, snapshot: NativeKeyedStateRestore, range: KeyGroupRange): void {
  const [oldStart, oldEnd] = snapshot.keyGroupRange;
  if (oldStart >= range.start && oldEnd <= range.end) return;
  const writes: RocksWrite[] = [];
  for (const family of store.columnFamilies) {
    if (family.startsWith('s/') || family.startsWith('d/')) {
      if (range.start > 0) writes.push({ kind: 'delete-range', columnFamily: family, key: keyGroupBytes(0), end: keyGroupBytes(range.start) });
      writes.push({ kind: 'delete-range', columnFamily: family, key: keyGroupBytes(range.end), end: STATE_ROWS_END });
    }
  }
  if (writes.length > 0) store.writeSync(writes);
  for (const family of store.columnFamilies) {
    if (family.startsWith('t/')) forEachTimerChunk(store, family, (keys) => {
      const foreign = keys.filter((key) => !range.contains(timerKeyGroup(key)));
      if (foreign.length > 0) store.writeSync(foreign.map((key) => ({ kind: 'delete', columnFamily: family, key })));
    });
  }
}

/** Copies the rows of `range`'s key groups from another old database into `store`. */
function importKeyGroups(
  store: RocksStore,
  snapshot: NativeKeyedStateRestore,
  range: KeyGroupRange,
  databasePath: string,
  open: (options: { readonly path: string; readonly columnFamilies: readonly string[]; readonly mustExist: boolean }) => RocksStore,
): void {
  const folder = `${databasePath}.import-${snapshot.keyGroupRange[0]}-${snapshot.keyGroupRange[1]}`;
  rmSync(folder, { recursive: true, force: true });
  materializeCheckpoint(snapshot.files, folder);
  const source = open({ path: folder, columnFamilies: snapshot.columnFamilies, mustExist: true });
  try {
    const missing = source.columnFamilies.filter((family) => !store.columnFamilies.includes(family));
    if (missing.length > 0) store.addColumnFamiliesSync(missing);
    const start = keyGroupBytes(Math.max(range.start, snapshot.keyGroupRange[0]));
    const end = keyGroupBytes(Math.min(range.end, snapshot.keyGroupRange[1]));
    for (const family of source.columnFamilies) {
      if (family.startsWith('s/') || family.startsWith('d/')) {
        let from = start;
        for (;;) {
          const { keys, values } = source.scanSync({ columnFamily: family, gte: from, lt: end, limit: IMPORT_CHUNK });
          if (keys.length === 0) break;
          store.writeSync(keys.map((key, i) => ({ kind: 'put', columnFamily: family, key: key.slice(), value: values[i]!.slice() })));
          if (keys.length < IMPORT_CHUNK) break;
          from = successor(keys[keys.length - 1]!);
        }
      } else if (family.startsWith('t/')) {
        forEachTimerChunk(source, family, (keys, values) => {
          const puts: RocksWrite[] = [];
          keys.forEach((key, i) => {
            if (range.contains(timerKeyGroup(key))) puts.push({ kind: 'put', columnFamily: family, key: key.slice(), value: values[i]!.slice() });
          });
          if (puts.length > 0) store.writeSync(puts);
        });
      }
    }
  } finally {
    source.closeSync();
    rmSync(folder, { recursive: true, force: true });
  }
}

function forEachTimerChunk(store: RocksStore, family: string, visit: (keys: readonly Uint8Array[], values: readonly Uint8Array[]) => void): void {
  let from: Uint8Array = Uint8Array.of(0);
  for (;;) {
    const { keys, values } = store.scanSync({ columnFamily: family, gte: from, lt: TIMER_ROWS_END, limit: IMPORT_CHUNK });
    if (keys.length === 0) return;
    visit(keys, values);
    if (keys.length < IMPORT_CHUNK) return;
    from = successor(keys[keys.length - 1]!);
  }
}

/** A timer row's key group: bytes 8–9, after the 8-byte timestamp. */
function timerKeyGroup(key: Uint8Array): number {
  return (key[8]! << 8) | key[9]!;
}

/** For the store options: the `open` a restore needs, from the backend's opener. */
export function restoreOpener(
  openStore: OpenRocksStoreSync,
  writeBufferBytes: number | undefined,
): (options: { readonly path: string; readonly columnFamilies: readonly string[]; readonly mustExist: boolean }) => RocksStore {
  return (options) => openStore({ ...options, ...(writeBufferBytes === undefined ? {} : { writeBufferBytes }) });
}
