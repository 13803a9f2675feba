import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { ConfigurationError, describeError, EddyError } from '../core/errors.ts';
import { stateValueCodec } from '../state/state-value-codec.ts';
import type {
  KeyedStateSnapshot,
  NativeKeyedStateRestore,
  NativeKeyedStateSnapshot,
  NativeSnapshotFile,
} from '../state/keyed-state-backend.ts';
import { errorCodeOf, nodeCheckpointFileSystem, type CheckpointFileSystem } from './checkpoint-file-system.ts';
import {
  bytesOfStateHandle,
  CHECKPOINT_FORMAT,
  filesOfStateHandle,
  SHARED_FOLDER,
  sharedFilesOfStateHandle,
  type CheckpointMetadata,
  type EnumeratorStateMetadata,
  type FileHandle,
  type KeyedStateHandle,
  type NamedFileHandle,
  type RocksDBStateHandle,
  type StateHandle,
} from './checkpoint-metadata.ts';

/**
 * Checkpoint storage on a file system: one folder per checkpoint, every file checksummed, metadata
 * written atomically, the newest K completed checkpoints kept.
 *
 * Layout (`<id>` zero-padded to 6 digits; more digits once ids pass 999999):
 * ```
 * <dir>/_eddy-job.json                        ownership marker {format: CHECKPOINT_DIR_FORMAT, jobName}
 * <dir>/chk-<id>/<uid segment>/subtask-<i>.operator  msgpack of a subtask's operator (list/union) state
 * <dir>/chk-<id>/<uid segment>/subtask-<i>.keyed     msgpack of a subtask's keyed state (eddy-keyed-state/1)
 * <dir>/chk-<id>/enumerators/<uid segment>.state  msgpack of a source enumerator's state
 * <dir>/chk-<id>/_metadata                     CheckpointMetadata as JSON; its presence = completed
 * ```
 * Invariants: a checkpoint is completed iff its `_metadata` exists, and `_metadata` appears (by an
 * atomic rename) only after every file it names was fsynced; ids never repeat within a directory
 * (see {@link CheckpointStorage.nextCheckpointId}); retention never deletes the newest completed
 * checkpoint; a directory serves one job (the marker names it).
 */

/**
 * One operator subtask's snapshot: its keyed state (canonical, per key group) and its operator state
 * (named lists of plain values, redistributed round-robin on restore — or, for union state, given
 * whole to every subtask). Defined here, below `operators` (DESIGN.md §12), which re-exports it.
 */
export interface OperatorSnapshot {
  /** Keyed state in the canonical form (memory backend, savepoints); undefined when none or native. */
  readonly keyed: KeyedStateSnapshot | undefined;
  readonly operatorState: Readonly<Record<string, readonly unknown[]>>;
  /** Names of operator-state lists that are union state (every subtask gets all elements). */
  readonly unionStateNames?: readonly string[];
  /**
   * Set by `snapshotState` when the backend captures keyed state natively (RocksDB): the task awaits it
   * after the synchronous part and writes its result as {@link nativeKeyed}. Never stored, never sent
   * between threads.
   */
  readonly pendingKeyed?: Promise<NativeKeyedStateSnapshot>;
  /** Keyed state as native files, for writing (see {@link pendingKeyed}). */
  readonly nativeKeyed?: NativeKeyedStateSnapshot;
  /** On restore only: native keyed state of the old subtasks whose key groups overlap this subtask's. */
  readonly restoredNativeKeyed?: readonly NativeKeyedStateRestore[];
}

export interface CheckpointStorageOptions {
  readonly dir: string;
  readonly jobName: string;
  readonly graphFingerprint: string;
  /** Completed checkpoints kept (the newest ones); at least 1. */
  readonly retained: number;
  readonly fs?: CheckpointFileSystem;
  /** One human-readable line per event worth telling the user (fallbacks, failed clean-ups). */
  readonly log?: (line: string) => void;
}

/** A completed checkpoint whose files verified, ready to restore from. */
/** The keyed state of one old subtask: canonical, or native files (verified, in place). */
export interface KeyedStatePart {
  readonly keyed: KeyedStateSnapshot | undefined;
  readonly native?: NativeKeyedStateRestore;
}

/** The operator (list/union) state part of an {@link OperatorSnapshot}, as stored in its own file. */
export type OperatorStatePart = Pick<OperatorSnapshot, 'operatorState' | 'unionStateNames'>;

export interface RestoredCheckpoint {
  /** The `chk-<id>` folder. */
  readonly path: string;
  readonly metadata: CheckpointMetadata;
  /** The whole snapshot of old subtask `subtask` of operator `uid`; verifies the files' SHA-256 again. */
  readState(uid: string, subtask: number): Promise<OperatorSnapshot>;
  /** Only the operator (list/union) state of old subtask `subtask` (empty lists when it had none). */
  readOperatorState(uid: string, subtask: number): Promise<OperatorStatePart>;
  /** Only the keyed state of old subtask `subtask` (both parts undefined when it had none). */
  readKeyedState(uid: string, subtask: number): Promise<KeyedStatePart>;
  /** The enumerator state of source `uid`, or undefined when the checkpoint has none. */
  readEnumeratorState(uid: string): Promise<unknown | undefined>;
}

const MARKER_FILE = '_eddy-job.json';
const METADATA_FILE = '_metadata';
const TEMP_SUFFIX = '.tmp';
const ENUMERATORS_FOLDER = 'enumerators';
const CHECKPOINT_FOLDER = /^chk-(\d+)$/;

/** `chk-000007` for id 7. */
export function checkpointFolderName(checkpointId: number): string {
  return `chk-${String(checkpointId).padStart(6, '0')}`;
}

/**
 * A uid as one portable file name, injectively: letters, digits, `-`, `_` and `.` stay; every other
 * character is percent-encoded (UTF-8), as is a leading `.` or `_` (no hidden files, no clash with
 * `_metadata`) and the first letter of `enumerators` (no clash with the enumerators folder).
 */
export function pathSegmentOf(uid: string): string {
  if (uid === '' || !isWellFormed(uid)) throw new EddyError(`operator uid ${JSON.stringify(uid)} is empty or not valid Unicode`);
  let segment = encodeURIComponent(uid).replace(/[!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (segment.startsWith('.') || segment.startsWith('_')) {
    segment = `%${segment.charCodeAt(0).toString(16).toUpperCase()}${segment.slice(1)}`;
  }
  return segment === ENUMERATORS_FOLDER ? `%65${segment.slice(1)}` : segment;
}

/** False for strings with a lone surrogate (which cannot be encoded as UTF-8). */
function isWellFormed(text: string): boolean {
  return !/\p{Surrogate}/u.test(text);
}

/** State files are msgpack through the one state codec (Map apart from objects, Set, Date, bigint). */
const stateCodec = stateValueCodec;

function encodeState(value: unknown, what: string): Uint8Array {
  try {
    // pack() returns a view into a reused buffer: copy before the next pack (writes are async).
    return new Uint8Array(stateCodec.pack(value));
  } catch (error) {
    throw new EddyError(`${what} cannot be encoded for a checkpoint: ${describeError(error)}`, { cause: error });
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A failed write: the checkpoint cannot complete, but nothing is lost (the previous one stays). */
function writeFailure(filePath: string, checkpointId: number, error: unknown): EddyError {
  const reason = errorCodeOf(error) === 'ENOSPC' ? `the disk is full (${describeError(error)})` : describeError(error);
  return new EddyError(
    `could not write checkpoint file '${filePath}': ${reason}; checkpoint ${checkpointId} is declined, ` +
      'the last completed checkpoint stays valid',
    { domain: 'external', isRetriable: true, cause: error },
  );
}

/** Why the checkpoint directory cannot be used at all (at open). */
function unusableDirectory(dir: string, error: unknown): EddyError {
  const code = errorCodeOf(error);
  const detail = describeError(error);
  switch (code) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new ConfigurationError(
        `checkpoint directory '${dir}' is not writable: ${detail}; choose another --checkpoint-dir`,
        { cause: error },
      );
    case 'EEXIST':
    case 'ENOTDIR':
      return new ConfigurationError(
        `checkpoint directory '${dir}' is not a folder (${detail}); choose another --checkpoint-dir`,
        { cause: error },
      );
    case 'ENOSPC':
      return new EddyError(
        `checkpoint directory '${dir}' is full: ${detail}; free some space or choose another --checkpoint-dir`,
        { domain: 'external', isRetriable: true, cause: error },
      );
    default:
      return new EddyError(`checkpoint directory '${dir}' cannot be used: ${detail}`, { domain: 'external', cause: error });
  }
}

/** Writes `name` in `folder` so that readers see the old file or the whole new one, durably. */
async function writeAtomically(fs: CheckpointFileSystem, folder: string, name: string, data: Uint8Array): Promise<void> {
  const temp = path.join(folder, name + TEMP_SUFFIX);
  await fs.writeFileDurably(temp, data);
  await fs.rename(temp, path.join(folder, name));
  await fs.syncDirectory(folder);
}

/** The ownership marker's own format: it describes the directory, not the checkpoints inside it. */
export const CHECKPOINT_DIR_FORMAT = 'eddy-checkpoint-dir/1';

const markerSchema = z.object({ format: z.string(), jobName: z.string() });

/** The job a checkpoint directory belongs to, from its marker. */
async function readMarkerOwner(fs: CheckpointFileSystem, dir: string): Promise<string> {
  const markerPath = path.join(dir, MARKER_FILE);
  let text: string;
  try {
    text = new TextDecoder().decode(await fs.readFile(markerPath));
  } catch (error) {
    throw unusableDirectory(dir, error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const marker = markerSchema.safeParse(parsed);
  if (!marker.success || marker.data.format !== CHECKPOINT_DIR_FORMAT) {
    throw new ConfigurationError(
      `checkpoint directory '${dir}' has an unreadable ownership marker '${markerPath}' (expected ` +
        `{"format": "${CHECKPOINT_DIR_FORMAT}", "jobName": …}); choose another --checkpoint-dir`,
    );
  }
  return marker.data.jobName;
}

interface CheckpointFolder {
  readonly id: number;
  readonly name: string;
}

/** The `chk-<id>` folders of a checkpoint directory, newest first. */
async function listCheckpointFolders(fs: CheckpointFileSystem, dir: string): Promise<CheckpointFolder[]> {
  const folders: CheckpointFolder[] = [];
  for (const name of await fs.readdir(dir)) {
    const match = CHECKPOINT_FOLDER.exec(name);
    if (match !== null) folders.push({ id: Number(match[1]), name });
  }
  return folders.sort((a, b) => b.id - a.id);
}

export class CheckpointStorage {
  /** The checkpoint directory, absolute. */
  readonly dir: string;
  private readonly jobName: string;
  private readonly retained: number;
  private readonly fs: CheckpointFileSystem;
  private readonly log: (line: string) => void;
  /** The largest id handed out, written or found on disk. */
  private largestId: number;
  /** The newest checkpoint completed through this instance (0: none yet). */
  private latestCompletedId = 0;
  /** Checkpoints completed through this instance: an abort must never delete them. */
  private readonly completedIds = new Set<number>();
  /** Aborted checkpoints newer than the latest completed one: late writes for them are refused. */
  private readonly abortedIds = new Set<number>();
  /** Completions and aborts run one at a time, in call order (retention sees a stable folder list). */
  private serial: Promise<void> = Promise.resolve();
  /**
   * Shared files already stored, by the local immutable file they hold (`<databaseId>\0<name>`): a later
   * checkpoint of the same database references them instead of storing them again (incremental).
   */
  private readonly sharedByLocalFile = new Map<string, NamedFileHandle>();
  /** Shared files that checkpoints still in progress reference, by checkpoint: retention keeps them. */
  private readonly pendingShared = new Map<number, Set<string>>();

  private constructor(dir: string, options: CheckpointStorageOptions, fs: CheckpointFileSystem, largestId: number) {
    this.dir = dir;
    this.jobName = options.jobName;
    this.retained = options.retained;
    this.fs = fs;
    this.log = options.log ?? defaultLog;
    this.largestId = largestId;
  }

  /**
   * Creates/validates the dir (an ownership marker file names the job: another job's dir is refused).
   * A non-empty folder without a marker is refused too: it is not ours to fill or clean. Rewriting the
   * marker proves the folder writable before the job starts.
   */
  static async open(options: CheckpointStorageOptions): Promise<CheckpointStorage> {
    const fs = options.fs ?? nodeCheckpointFileSystem;
    const dir = path.resolve(options.dir);
    if (!Number.isSafeInteger(options.retained) || options.retained < 1) {
      throw new ConfigurationError(`the number of retained checkpoints must be a whole number ≥ 1, got ${options.retained}`);
    }
    let entries: string[];
    try {
      await fs.mkdir(dir);
      entries = await fs.readdir(dir);
    } catch (error) {
      throw unusableDirectory(dir, error);
    }
    if (entries.includes(MARKER_FILE)) {
      const owner = await readMarkerOwner(fs, dir);
      if (owner !== options.jobName) {
        throw new ConfigurationError(
          `checkpoint directory '${dir}' holds checkpoints of job '${owner}', not '${options.jobName}'; ` +
            'choose another --checkpoint-dir',
        );
      }
    } else {
      const foreign = entries.filter((name) => name !== MARKER_FILE + TEMP_SUFFIX);
      if (foreign.length > 0) {
        const shown = foreign.slice(0, 3).map((name) => `'${name}'`).join(', ');
        const more = foreign.length > 3 ? ` and ${foreign.length - 3} more` : '';
        throw new ConfigurationError(
          `checkpoint directory '${dir}' is not an Eddy checkpoint directory: it has no ${MARKER_FILE} and is not ` +
            `empty (it holds ${shown}${more}); choose an empty or new --checkpoint-dir`,
        );
      }
    }
    const marker = new TextEncoder().encode(`${JSON.stringify({ format: CHECKPOINT_DIR_FORMAT, jobName: options.jobName }, null, 2)}\n`);
    try {
      await writeAtomically(fs, dir, MARKER_FILE, marker);
    } catch (error) {
      throw unusableDirectory(dir, error);
    }
    const folders = await listCheckpointFolders(fs, dir);
    return new CheckpointStorage(dir, options, fs, folders[0]?.id ?? 0);
  }

  /**
   * 1 + the largest checkpoint id found on disk (completed or not), so ids never repeat. Each call
   * hands out a new id (ids passed to the write methods count as used too), so two triggers never share
   * one even when the first left nothing on disk.
   */
  nextCheckpointId(): number {
    this.largestId += 1;
    return this.largestId;
  }

  /**
   * Writes one operator subtask's snapshot durably and returns its handle for the metadata. Rejects
   * with a retriable external EddyError naming the file when the disk fails (ENOSPC, EACCES, …): the
   * checkpoint is then declined and nothing else is affected.
   */
  async writeOperatorState(
    checkpointId: number,
    uid: string,
    subtask: number,
    keyGroupRange: readonly [number, number],
    isFinished: boolean,
    snapshot: OperatorSnapshot,
  ): Promise<StateHandle> {
    try {
      this.checkStillWanted(checkpointId);
    } catch (error) {
      // A native capture's local files are ours to remove once they will not be stored.
      if (snapshot.nativeKeyed !== undefined) await this.fs.rm(snapshot.nativeKeyed.dir).catch(() => undefined);
      throw error;
    }
    this.noteId(checkpointId); // also when the snapshot is empty and no file is written
    const folder = pathSegmentOf(uid);
    const what = `operator '${uid}' (subtask ${subtask})`;
    const hasOperatorState = Object.keys(snapshot.operatorState).length > 0;
    const writes: Array<Promise<FileHandle>> = [];
    if (hasOperatorState) {
      const part: OperatorStatePart =
        snapshot.unionStateNames === undefined || snapshot.unionStateNames.length === 0
          ? { operatorState: snapshot.operatorState }
          : { operatorState: snapshot.operatorState, unionStateNames: snapshot.unionStateNames };
      writes.push(this.writeEncoded(checkpointId, `${folder}/subtask-${subtask}.operator`, part, `the operator state of ${what}`));
    }
    if (snapshot.keyed !== undefined) {
      writes.push(this.writeEncoded(checkpointId, `${folder}/subtask-${subtask}.keyed`, snapshot.keyed, `the keyed state of ${what}`));
    }
    if (snapshot.pendingKeyed !== undefined) throw new EddyError(`the snapshot of ${what} still waits for its keyed state`);
    const native =
      snapshot.nativeKeyed === undefined
        ? undefined
        : this.writeNativeKeyed(checkpointId, uid, `${folder}/subtask-${subtask}.rocksdb`, snapshot.nativeKeyed);
    const [files, nativeWritten] = await Promise.all([Promise.all(writes), native]);
    const operatorState = hasOperatorState ? files[0] : undefined;
    const canonical = snapshot.keyed === undefined ? undefined : files[files.length - 1]!;
    const keyed: KeyedStateHandle | undefined =
      nativeWritten !== undefined ? nativeWritten.handle : canonical === undefined ? undefined : { kind: 'canonical', ...canonical };
    const writtenBytes = files.reduce((sum, file) => sum + file.bytes, 0) + (nativeWritten?.writtenBytes ?? 0);
    const handle: StateHandle = {
      subtask,
      keyGroupRange: [keyGroupRange[0], keyGroupRange[1]],
      isFinished,
      ...(operatorState === undefined ? {} : { operatorState }),
      ...(keyed === undefined ? {} : { keyed }),
    };
    return bytesOfStateHandle(handle) === writtenBytes ? handle : { ...handle, writtenBytes };
  }

  /**
   * Stores a native (RocksDB) checkpoint: immutable files under `shared/` once — a file this storage
   * already holds (stored by an earlier checkpoint of the same database, or the database restored it from
   * here) is referenced, not stored again — and the mutable ones in the checkpoint's folder. Removes the
   * local checkpoint folder afterwards.
   */
  private async writeNativeKeyed(
    checkpointId: number,
    uid: string,
    privateFolder: string,
    native: NativeKeyedStateSnapshot,
  ): Promise<{ readonly handle: RocksDBStateHandle; readonly writtenBytes: number }> {
    let pending = this.pendingShared.get(checkpointId);
    if (pending === undefined) this.pendingShared.set(checkpointId, (pending = new Set()));
    const sharedFiles: NamedFileHandle[] = [];
    const privateFiles: NamedFileHandle[] = [];
    let writtenBytes = 0;
    for (const file of native.files) {
      const source = path.join(native.dir, file.name);
      if (!file.isImmutable) {
        const relative = `${privateFolder}/${file.name}`;
        const stored = await this.importLocalFile(checkpointId, source, path.join(this.folderOf(checkpointId), relative));
        privateFiles.push({ name: file.name, file: relative, ...stored });
        writtenBytes += stored.bytes;
        continue;
      }
      const localKey = `${native.databaseId}\0${file.name}`;
      let shared = this.sharedByLocalFile.get(localKey) ?? this.restoredSharedFile(file);
      if (shared === undefined) {
        const relative = `${SHARED_FOLDER}/${pathSegmentOf(uid)}/${randomUUID()}-${file.name}`;
        const stored = await this.importLocalFile(checkpointId, source, path.join(this.dir, relative));
        shared = { name: file.name, file: relative, ...stored };
        writtenBytes += stored.bytes;
      }
      // Recorded synchronously with the lookup, so that retention never deletes a file being referenced.
      this.sharedByLocalFile.set(localKey, shared);
      pending.add(shared.file);
      sharedFiles.push(shared);
    }
    try {
      await this.fs.rm(native.dir);
    } catch (error) {
      this.log(`could not remove the local checkpoint folder '${native.dir}': ${describeError(error)}`);
    }
    return {
      handle: { kind: 'rocksdb', columnFamilies: [...native.columnFamilies], states: [...native.states], sharedFiles, privateFiles },
      writtenBytes,
    };
  }

  /** The shared file of this storage a restored database file came from, if it did. */
  private restoredSharedFile(file: NativeSnapshotFile): NamedFileHandle | undefined {
    const from = file.restoredFrom;
    if (from === undefined) return undefined;
    const relative = path.relative(this.dir, from.path).split(path.sep).join('/');
    if (!relative.startsWith(`${SHARED_FOLDER}/`)) return undefined; // restored from another checkpoint dir
    return { name: file.name, file: relative, bytes: file.bytes, sha256: from.sha256 };
  }

  private async importLocalFile(checkpointId: number, source: string, target: string): Promise<{ bytes: number; sha256: string }> {
    this.noteId(checkpointId);
    try {
      await this.fs.mkdir(path.dirname(target));
      await this.fs.importFile(source, target);
      return await this.fs.hashFile(target);
    } catch (error) {
      throw writeFailure(target, checkpointId, error);
    }
  }

  /** Writes a source enumerator's state (plain data) durably; failures as for {@link writeOperatorState}. */
  async writeEnumeratorState(checkpointId: number, uid: string, state: unknown): Promise<EnumeratorStateMetadata> {
    this.checkStillWanted(checkpointId);
    const file = `${ENUMERATORS_FOLDER}/${pathSegmentOf(uid)}.state`;
    return { uid, ...(await this.writeEncoded(checkpointId, file, state, `the enumerator state of source '${uid}'`)) };
  }

  private async writeEncoded(checkpointId: number, file: string, value: unknown, what: string): Promise<FileHandle> {
    const bytes = encodeState(value, what);
    await this.writeStateFile(checkpointId, file, bytes);
    return { file, bytes: bytes.length, sha256: sha256Hex(bytes) };
  }

  /**
   * Writes `_metadata` atomically (temp, fsync, rename, fsync dir), then deletes completed checkpoints
   * beyond `retained` (oldest first) and the folders of aborted/partial ones older than this.
   *
   * Resolves once `_metadata` is durable: only then may tasks be notified. A rejection means the
   * checkpoint did not complete. Retention runs after that point, so its failures are logged, never
   * thrown (a completed checkpoint must not be reported as failed).
   */
  completeCheckpoint(metadata: CheckpointMetadata): Promise<void> {
    return this.inOrder(() => this.completeInOrder(metadata));
  }

  /**
   * Deletes the folder of a checkpoint that will not complete. A checkpoint this instance completed is
   * kept (a late abort after completion must not destroy what sinks already committed against).
   * Clean-up failures are logged: the next completion removes the leftovers.
   */
  abortCheckpoint(checkpointId: number): Promise<void> {
    return this.inOrder(async () => {
      if (this.completedIds.has(checkpointId)) {
        this.log(`checkpoint ${checkpointFolderName(checkpointId)} is complete; keeping it despite the abort`);
        return;
      }
      if (checkpointId > this.latestCompletedId) this.abortedIds.add(checkpointId);
      this.pendingShared.delete(checkpointId); // what only it referenced goes at the next retention
      this.noteId(checkpointId);
      await this.removeFolder(checkpointId, 'aborted');
    });
  }

  /** The newest completed checkpoint whose files all verify; falls back to older ones, logging why. */
  latestCompleted(): Promise<RestoredCheckpoint | undefined> {
    return findLatestCompleted(this.fs, this.dir, this.log);
  }

  private async completeInOrder(metadata: CheckpointMetadata): Promise<void> {
    const id = metadata.checkpointId;
    if (metadata.format !== CHECKPOINT_FORMAT || metadata.jobName !== this.jobName) {
      throw new EddyError(
        `checkpoint ${id} metadata is for job '${metadata.jobName}' (format '${metadata.format}'), but this ` +
          `storage serves job '${this.jobName}' (format '${CHECKPOINT_FORMAT}')`,
      );
    }
    this.checkStillWanted(id);
    this.noteId(id);
    const folder = this.folderOf(id);
    const metadataPath = path.join(folder, METADATA_FILE);
    try {
      // The state files were fsynced, but their folder entries are durable only once the folders are.
      const folders = new Set<string>();
      for (const operator of metadata.operators) {
        for (const handle of operator.subtasks) {
          for (const file of filesOfStateHandle(handle)) folders.add(path.dirname(path.join(folder, file.file)));
          for (const file of sharedFilesOfStateHandle(handle)) folders.add(path.dirname(path.join(this.dir, file.file)));
        }
      }
      for (const enumerator of metadata.enumerators) folders.add(path.dirname(path.join(folder, enumerator.file)));
      for (const subfolder of folders) await this.fs.syncDirectory(subfolder);
      await this.fs.mkdir(folder);
      const json = new TextEncoder().encode(`${JSON.stringify(metadata, null, 2)}\n`);
      await writeAtomically(this.fs, folder, METADATA_FILE, json);
      // The chk folder itself may be new: make its entry in the checkpoint directory durable.
      await this.fs.syncDirectory(this.dir);
    } catch (error) {
      throw writeFailure(metadataPath, id, error);
    }
    this.completedIds.add(id);
    this.latestCompletedId = id;
    this.pendingShared.delete(id); // its shared files are referenced by its _metadata now
    for (const aborted of this.abortedIds) if (aborted <= id) this.abortedIds.delete(aborted);
    await this.applyRetention(id);
  }

  /** Keeps `retained` completed checkpoints (always including `newestId`); removes partial ones older. */
  private async applyRetention(newestId: number): Promise<void> {
    let folders: CheckpointFolder[];
    try {
      folders = await listCheckpointFolders(this.fs, this.dir);
    } catch (error) {
      this.log(`could not list checkpoint directory '${this.dir}' for clean-up: ${describeError(error)}`);
      return;
    }
    let keptCompleted = 1;
    for (const folder of folders) {
      if (folder.id >= newestId) continue;
      let isCompleted: boolean;
      try {
        isCompleted = await this.fs.exists(path.join(this.dir, folder.name, METADATA_FILE));
      } catch (error) {
        this.log(`could not inspect checkpoint folder '${path.join(this.dir, folder.name)}': ${describeError(error)}`);
        continue;
      }
      if (isCompleted && keptCompleted < this.retained) {
        keptCompleted += 1;
        continue;
      }
      await this.removeFolder(folder.id, isCompleted ? 'retired' : 'partial');
    }
    await this.removeUnreferencedSharedFiles();
  }

  /**
   * Deletes shared files that no completed checkpoint left in the directory and no checkpoint in progress
   * references: the files of retired checkpoints that newer ones no longer contain, and uploads of
   * checkpoints that never completed. A file whose references cannot all be read is kept.
   */
  private async removeUnreferencedSharedFiles(): Promise<void> {
    const sharedRoot = path.join(this.dir, SHARED_FOLDER);
    let onDisk: string[];
    const referenced = new Set<string>();
    try {
      onDisk = [];
      for (const segment of await this.fs.readdir(sharedRoot)) {
        for (const name of await this.fs.readdir(path.join(sharedRoot, segment))) onDisk.push(`${SHARED_FOLDER}/${segment}/${name}`);
      }
      if (onDisk.length === 0) return;
      for (const folder of await listCheckpointFolders(this.fs, this.dir)) {
        const metadataPath = path.join(this.dir, folder.name, METADATA_FILE);
        if (!(await this.fs.exists(metadataPath))) continue;
        const metadata = JSON.parse(new TextDecoder().decode(await this.fs.readFile(metadataPath))) as CheckpointMetadata;
        for (const operator of metadata.operators) {
          for (const handle of operator.subtasks) for (const file of sharedFilesOfStateHandle(handle)) referenced.add(file.file);
        }
      }
    } catch (error) {
      this.log(`could not work out which shared checkpoint files are still needed: ${describeError(error)}; keeping them all`);
      return;
    }
    // From here to the deletions nothing awaits: a checkpoint cannot start referencing a file in between.
    for (const files of this.pendingShared.values()) for (const file of files) referenced.add(file);
    const unreferenced = new Set(onDisk.filter((file) => !referenced.has(file)));
    if (unreferenced.size === 0) return;
    for (const [localFile, shared] of this.sharedByLocalFile) {
      if (unreferenced.has(shared.file)) this.sharedByLocalFile.delete(localFile);
    }
    for (const file of unreferenced) {
      try {
        await this.fs.rm(path.join(this.dir, file));
      } catch (error) {
        this.log(`could not delete the unreferenced shared checkpoint file '${path.join(this.dir, file)}': ${describeError(error)}`);
      }
    }
  }

  private async removeFolder(checkpointId: number, why: string): Promise<void> {
    const folder = this.folderOf(checkpointId);
    try {
      await this.fs.rm(folder);
    } catch (error) {
      this.log(`could not delete ${why} checkpoint folder '${folder}': ${describeError(error)}`);
    }
  }

  private async writeStateFile(checkpointId: number, file: string, bytes: Uint8Array): Promise<void> {
    this.noteId(checkpointId);
    const target = path.join(this.folderOf(checkpointId), file);
    try {
      await this.fs.mkdir(path.dirname(target));
      await this.fs.writeFileDurably(target, bytes);
    } catch (error) {
      throw writeFailure(target, checkpointId, error);
    }
  }

  /** Refuses work for a checkpoint that was aborted or subsumed by a newer completed one. */
  private checkStillWanted(checkpointId: number): void {
    if (!Number.isSafeInteger(checkpointId) || checkpointId < 1) {
      throw new EddyError(`checkpoint ids are whole numbers ≥ 1, got ${checkpointId}`);
    }
    if (this.abortedIds.has(checkpointId)) {
      throw new EddyError(`checkpoint ${checkpointId} was aborted`);
    }
    if (checkpointId <= this.latestCompletedId) {
      throw new EddyError(`checkpoint ${checkpointId} is subsumed by the completed checkpoint ${this.latestCompletedId}`);
    }
  }

  private noteId(checkpointId: number): void {
    if (checkpointId > this.largestId) this.largestId = checkpointId;
  }

  private folderOf(checkpointId: number): string {
    return path.join(this.dir, checkpointFolderName(checkpointId));
  }

  private inOrder(work: () => Promise<void>): Promise<void> {
    const run = this.serial.then(work);
    this.serial = run.catch(() => undefined);
    return run;
  }
}

function defaultLog(line: string): void {
  console.warn(line);
}

/** For --from-checkpoint: a `chk-<id>` folder, or a checkpoint dir (▶ its latest completed). */
export async function loadCheckpoint(
  checkpointPath: string,
  options: { fs?: CheckpointFileSystem; log?: (line: string) => void } = {},
): Promise<RestoredCheckpoint> {
  const fs = options.fs ?? nodeCheckpointFileSystem;
  const log = options.log ?? defaultLog;
  const target = path.resolve(checkpointPath);
  if (await fs.exists(path.join(target, METADATA_FILE))) {
    const result = await verifyCheckpoint(fs, target, CHECKPOINT_FOLDER.exec(path.basename(target))?.[1]);
    if (result.kind === 'problem') {
      throw new ConfigurationError(
        `checkpoint '${target}' cannot be restored: it is ${result.problem}; restore from an older chk-<id> folder ` +
          'or from the checkpoint directory (which falls back to the newest intact checkpoint)',
      );
    }
    return result.checkpoint;
  }
  if (await fs.exists(path.join(target, MARKER_FILE))) {
    const latest = await findLatestCompleted(fs, target, log);
    if (latest === undefined) {
      throw new ConfigurationError(`checkpoint directory '${target}' holds no completed checkpoint to restore from`);
    }
    return latest;
  }
  if (!(await fs.exists(target))) {
    throw new ConfigurationError(`checkpoint '${target}' does not exist`);
  }
  if (CHECKPOINT_FOLDER.test(path.basename(target))) {
    throw new ConfigurationError(
      `checkpoint '${target}' is incomplete (no ${METADATA_FILE}): it never completed; restore from an older ` +
        `chk-<id> folder or from the checkpoint directory '${path.dirname(target)}'`,
    );
  }
  throw new ConfigurationError(
    `'${target}' is not an Eddy checkpoint: it holds neither ${METADATA_FILE} (a chk-<id> folder) nor ` +
      `${MARKER_FILE} (a checkpoint directory)`,
  );
}

async function findLatestCompleted(
  fs: CheckpointFileSystem,
  dir: string,
  log: (line: string) => void,
): Promise<RestoredCheckpoint | undefined> {
  const skipped: Array<{ readonly name: string; readonly problem: string; readonly isCorrupt: boolean }> = [];
  for (const folder of await listCheckpointFolders(fs, dir)) {
    const result = await verifyCheckpoint(fs, path.join(dir, folder.name), String(folder.id));
    if (result.kind === 'checkpoint') {
      for (const skip of skipped) {
        // A checkpoint still in progress when the job failed is normal; only corruption is alarming.
        log(
          skip.isCorrupt
            ? `checkpoint ${skip.name} is ${skip.problem}; using ${folder.name}`
            : `checkpoint ${skip.name} never completed (it was in progress when the job stopped); using ${folder.name}`,
        );
      }
      return result.checkpoint;
    }
    skipped.push({ name: folder.name, problem: result.problem, isCorrupt: result.isCorrupt });
  }
  const corrupt = skipped.filter((skip) => skip.isCorrupt);
  if (corrupt.length === 0) return undefined;
  // Starting from scratch after output was committed would duplicate it: let the user decide.
  throw new ConfigurationError(
    `no usable checkpoint in '${dir}': ${corrupt.map((skip) => `${skip.name} is ${skip.problem}`).join('; ')}; ` +
      'move the directory aside to start the job from scratch',
  );
}

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'expected a hex SHA-256');
const relativeFileSchema = z
  .string()
  .refine(
    (file) => file.split('/').every((part) => part !== '' && part !== '.' && part !== '..' && !part.includes('\\')),
    'expected a relative path inside the checkpoint folder',
  );
const fileHandleSchema = z.object({ file: relativeFileSchema, bytes: z.number().int().min(0), sha256: sha256Schema });
const namedFileHandleSchema = fileHandleSchema.extend({ name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a plain file name') });
const stateHandleSchema = z.object({
  subtask: z.number().int().min(0),
  keyGroupRange: z.tuple([z.number().int().min(0), z.number().int().min(0)]),
  isFinished: z.boolean(),
  operatorState: fileHandleSchema.optional(),
  keyed: z
    .discriminatedUnion('kind', [
      fileHandleSchema.extend({ kind: z.literal('canonical') }),
      z.object({
        kind: z.literal('rocksdb'),
        columnFamilies: z.array(z.string()),
        states: z
          .array(
            z.object({
              name: z.string(),
              kind: z.enum(['value', 'list', 'map', 'reducing', 'aggregating']),
              hasTtl: z.boolean().optional(),
              version: z.number().int().optional(),
            }),
          )
          .optional(),
        sharedFiles: z.array(namedFileHandleSchema.refine((f) => f.file.startsWith(`${SHARED_FOLDER}/`), 'expected a file under shared/')),
        privateFiles: z.array(namedFileHandleSchema),
      }),
    ])
    .optional(),
  writtenBytes: z.number().int().min(0).optional(),
});
const metadataSchema = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  checkpointId: z.number().int().min(1),
  jobName: z.string(),
  graphFingerprint: z.string(),
  mode: z.enum(['exactly-once', 'at-least-once']),
  triggeredAtMs: z.number(),
  durationMs: z.number(),
  totalBytes: z.number(),
  writtenBytes: z.number().optional(),
  operators: z.array(
    z.object({
      uid: z.string(),
      name: z.string(),
      kind: z.string(),
      parallelism: z.number().int().min(1),
      maxParallelism: z.number().int().min(1),
      subtasks: z.array(stateHandleSchema),
    }),
  ),
  enumerators: z.array(fileHandleSchema.extend({ uid: z.string() })),
});

type Verification =
  | { readonly kind: 'checkpoint'; readonly checkpoint: RestoredCheckpoint }
  | { readonly kind: 'problem'; readonly problem: string; readonly isCorrupt: boolean };


/**
 * Reads `_metadata` and every file it names, comparing sizes and SHA-256. A missing or mismatching file
 * is a problem (corruption); any other read error (EACCES, EIO) is thrown: it says nothing about the
 * checkpoint, and falling back to an older one over a transient error would replay committed output.
 * Cost: reads the whole checkpoint once.
 */
async function verifyCheckpoint(fs: CheckpointFileSystem, folder: string, folderId: string | undefined): Promise<Verification> {
  let metadataBytes: Uint8Array;
  try {
    metadataBytes = await fs.readFile(path.join(folder, METADATA_FILE));
  } catch (error) {
    if (errorCodeOf(error) === 'ENOENT') return { kind: 'problem', problem: `incomplete (no ${METADATA_FILE})`, isCorrupt: false };
    throw unreadable(path.join(folder, METADATA_FILE), error);
  }
  const corrupt = (problem: string): Verification => ({ kind: 'problem', problem: `corrupt (${problem})`, isCorrupt: true });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(metadataBytes));
  } catch {
    return corrupt(`${METADATA_FILE}: not valid JSON`);
  }
  const format = typeof json === 'object' && json !== null ? (json as { format?: unknown }).format : undefined;
  if (typeof format === 'string' && format.startsWith('eddy-checkpoint/') && format !== CHECKPOINT_FORMAT) {
    // Another Eddy version's checkpoint is intact, not corrupt: never skip it silently in favour of an older one.
    throw new ConfigurationError(
      `checkpoint '${folder}' has format '${format}', which this version of Eddy cannot read (it reads ` +
        `'${CHECKPOINT_FORMAT}'); restore it with the Eddy version that wrote it, or start without --from-checkpoint ` +
        'and with an empty --checkpoint-dir',
    );
  }
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
    return corrupt(`${METADATA_FILE}: invalid${where}: ${issue?.message ?? 'unknown problem'}`);
  }
  const metadata: CheckpointMetadata = parsed.data;
  if (folderId !== undefined && Number(folderId) !== metadata.checkpointId) {
    return corrupt(`${METADATA_FILE}: names checkpoint ${metadata.checkpointId}, not ${Number(folderId)}`);
  }
  const files: FileHandle[] = [...metadata.operators.flatMap((operator) => operator.subtasks.flatMap(filesOfStateHandle)), ...metadata.enumerators];
  for (const check of files) {
    const { problem } = await readChecked(fs, folder, check);
    if (problem !== undefined) return corrupt(`${check.file}: ${problem}`);
  }
  const shared = new Map<string, FileHandle>();
  for (const operator of metadata.operators) {
    for (const handle of operator.subtasks) for (const file of sharedFilesOfStateHandle(handle)) shared.set(file.file, file);
  }
  for (const check of shared.values()) {
    // Shared files live in the checkpoint directory, next to the chk folders; large: hashed as streams.
    const problem = await hashProblem(fs, path.dirname(folder), check);
    if (problem !== undefined) return corrupt(`${check.file}: ${problem}`);
  }
  return { kind: 'checkpoint', checkpoint: new VerifiedCheckpoint(fs, folder, metadata) };
}

/** Reads a checkpoint file; `problem` is set when it is missing or its size or checksum differ. */
async function readChecked(
  fs: CheckpointFileSystem,
  folder: string,
  check: FileHandle,
): Promise<{ readonly bytes: Uint8Array; readonly problem: undefined } | { readonly bytes: undefined; readonly problem: string }> {
  const filePath = path.join(folder, check.file);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(filePath);
  } catch (error) {
    if (errorCodeOf(error) === 'ENOENT') return { bytes: undefined, problem: 'missing' };
    throw unreadable(filePath, error);
  }
  if (bytes.length !== check.bytes) {
    return { bytes: undefined, problem: `${bytes.length} bytes, expected ${check.bytes}` };
  }
  if (sha256Hex(bytes) !== check.sha256) return { bytes: undefined, problem: 'checksum mismatch' };
  return { bytes, problem: undefined };
}

/** Size and checksum of a (possibly large) file, read as a stream; a problem when missing or different. */
async function hashProblem(fs: CheckpointFileSystem, base: string, check: FileHandle): Promise<string | undefined> {
  const filePath = path.join(base, check.file);
  let actual: { readonly bytes: number; readonly sha256: string };
  try {
    actual = await fs.hashFile(filePath);
  } catch (error) {
    if (errorCodeOf(error) === 'ENOENT') return 'missing';
    throw unreadable(filePath, error);
  }
  if (actual.bytes !== check.bytes) return `${actual.bytes} bytes, expected ${check.bytes}`;
  return actual.sha256 === check.sha256 ? undefined : 'checksum mismatch';
}

function unreadable(filePath: string, error: unknown): EddyError {
  return new EddyError(`could not read checkpoint file '${filePath}': ${describeError(error)}`, {
    domain: 'external',
    isRetriable: true,
    cause: error,
  });
}

class VerifiedCheckpoint implements RestoredCheckpoint {
  readonly path: string;
  readonly metadata: CheckpointMetadata;
  private readonly fs: CheckpointFileSystem;

  constructor(fs: CheckpointFileSystem, folder: string, metadata: CheckpointMetadata) {
    this.fs = fs;
    this.path = folder;
    this.metadata = metadata;
  }

  async readState(uid: string, subtask: number): Promise<OperatorSnapshot> {
    const [operatorPart, keyedPart] = await Promise.all([this.readOperatorState(uid, subtask), this.readKeyedState(uid, subtask)]);
    return {
      keyed: keyedPart.keyed,
      ...operatorPart,
      ...(keyedPart.native === undefined ? {} : { restoredNativeKeyed: [keyedPart.native] }),
    };
  }

  async readOperatorState(uid: string, subtask: number): Promise<OperatorStatePart> {
    const handle = this.handleOf(uid, subtask);
    if (handle.operatorState === undefined) return { operatorState: {} };
    const value = await this.readVerified(handle.operatorState);
    if (!isOperatorStatePart(value)) throw this.malformed(handle.operatorState, 'operator state');
    return value;
  }

  async readKeyedState(uid: string, subtask: number): Promise<KeyedStatePart> {
    const handle = this.handleOf(uid, subtask);
    const keyed = handle.keyed;
    if (keyed === undefined) return { keyed: undefined };
    if (keyed.kind === 'canonical') {
      const value = await this.readVerified(keyed);
      if (!isKeyedStateSnapshot(value)) throw this.malformed(keyed, 'keyed state');
      return { keyed: value };
    }
    const maxParallelism = this.metadata.operators.find((operator) => operator.uid === uid)!.maxParallelism;
    const files: Array<NativeKeyedStateRestore['files'][number]> = [];
    for (const [base, file] of [
      ...keyed.sharedFiles.map((f) => [path.dirname(this.path), f] as const),
      ...keyed.privateFiles.map((f) => [this.path, f] as const),
    ]) {
      const problem = await hashProblem(this.fs, base, file);
      if (problem !== undefined) {
        throw new EddyError(`checkpoint file '${path.join(base, file.file)}' is corrupt: ${problem}`, { domain: 'external' });
      }
      files.push({ name: file.name, path: path.join(base, file.file), bytes: file.bytes, sha256: file.sha256 });
    }
    return {
      keyed: undefined,
      native: {
        format: 'eddy-rocksdb/1',
        maxParallelism,
        keyGroupRange: [handle.keyGroupRange[0], handle.keyGroupRange[1]],
        columnFamilies: [...keyed.columnFamilies],
        states: keyed.states === undefined ? undefined : [...keyed.states],
        files,
      },
    };
  }

  private handleOf(uid: string, subtask: number): StateHandle {
    const handle = this.metadata.operators.find((operator) => operator.uid === uid)?.subtasks.find((h) => h.subtask === subtask);
    if (handle === undefined) {
      throw new EddyError(`checkpoint '${this.path}' holds no state for operator '${uid}' subtask ${subtask}`);
    }
    return handle;
  }

  private malformed(file: FileHandle, what: string): EddyError {
    return new EddyError(`checkpoint file '${path.join(this.path, file.file)}' does not hold ${what}`, { domain: 'external' });
  }

  async readEnumeratorState(uid: string): Promise<unknown | undefined> {
    const handle = this.metadata.enumerators.find((enumerator) => enumerator.uid === uid);
    return handle === undefined ? undefined : this.readVerified(handle);
  }

  private async readVerified(check: FileHandle): Promise<unknown> {
    const filePath = path.join(this.path, check.file);
    const result = await readChecked(this.fs, this.path, check);
    if (result.bytes === undefined) {
      throw new EddyError(`checkpoint file '${filePath}' is corrupt: ${result.problem}`, { domain: 'external' });
    }
    try {
      return stateCodec.unpack(result.bytes);
    } catch (error) {
      throw new EddyError(`checkpoint file '${filePath}' cannot be decoded: ${describeError(error)}`, {
        domain: 'external',
        cause: error,
      });
    }
  }
}

function isOperatorStatePart(value: unknown): value is OperatorStatePart {
  if (typeof value !== 'object' || value === null) return false;
  const { operatorState, unionStateNames } = value as Record<string, unknown>;
  if (typeof operatorState !== 'object' || operatorState === null || Array.isArray(operatorState)) return false;
  if (!Object.values(operatorState).every(Array.isArray)) return false;
  return unionStateNames === undefined || (Array.isArray(unionStateNames) && unionStateNames.every((n) => typeof n === 'string'));
}

function isKeyedStateSnapshot(value: unknown): value is KeyedStateSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const { format, keyGroups } = value as Record<string, unknown>;
  return typeof format === 'string' && Array.isArray(keyGroups);
}
