import { createHash } from 'node:crypto';
import { constants as fsConstants, createReadStream } from 'node:fs';
import { copyFile, link, open, mkdir, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';

/**
 * The storage boundary of checkpoints: every byte the checkpoint layer reads or writes goes through
 * one of these calls. Production uses {@link nodeCheckpointFileSystem}; tests wrap it to inject
 * ENOSPC, EACCES or torn writes exactly where a real disk would fail (tests run as root, so chmod
 * cannot simulate an unwritable folder).
 *
 * Errors are Node's: an `Error` with a string `code` (`ENOSPC`, `EACCES`, …). Callers classify them.
 */
export interface CheckpointFileSystem {
  /** Creates the folder and its missing parents; a no-op when it exists. */
  mkdir(path: string): Promise<void>;
  /** Writes the whole file (replacing it) and fsyncs it before resolving: its bytes survive a crash. */
  writeFileDurably(path: string, data: Uint8Array): Promise<void>;
  /** Atomic on one file system: readers see the old name or the new one, never a half-written file. */
  rename(from: string, to: string): Promise<void>;
  /** fsyncs a folder, making the creation, rename or removal of its entries durable. */
  syncDirectory(path: string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  /** Entry names of a folder, `[]` if it does not exist. */
  readdir(path: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  /** Removes a file or a folder with its contents; a no-op when it does not exist. */
  rm(path: string): Promise<void>;
  /**
   * Puts a copy of the (immutable) file `from` at `to` durably: a hard link when both are on one file
   * system (no bytes copied), else a copy, fsynced. `to` must not exist.
   */
  importFile(from: string, to: string): Promise<void>;
  /** Size and hex SHA-256 of a file, read as a stream (files may be large). */
  hashFile(path: string): Promise<{ readonly bytes: number; readonly sha256: string }>;
}

/** The error codes of Node's fs calls, when the error carries one. */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** The local file system through `node:fs/promises`. */
export const nodeCheckpointFileSystem: CheckpointFileSystem = {
  async mkdir(path) {
    await mkdir(path, { recursive: true });
  },

  async writeFileDurably(path, data) {
    const handle = await open(path, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },

  async rename(from, to) {
    await rename(from, to);
  },

  async syncDirectory(path) {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      // Windows cannot open a folder for fsync (EISDIR/EPERM); its NTFS metadata is journaled anyway.
      if (errorCodeOf(error) === 'EISDIR' || errorCodeOf(error) === 'EPERM') return;
      throw error;
    }
    try {
      await handle.sync();
    } catch (error) {
      // Some file systems reject fsync on a folder (EINVAL); nothing more can be done there.
      if (errorCodeOf(error) !== 'EINVAL') throw error;
    } finally {
      await handle.close();
    }
  },

  async readFile(path) {
    return readFile(path);
  },

  async readdir(path) {
    try {
      return await readdir(path);
    } catch (error) {
      if (errorCodeOf(error) === 'ENOENT') return [];
      throw error;
    }
  },

  async exists(path) {
    try {
      await stat(path);
      return true;
    } catch (error) {
      const code = errorCodeOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw error;
    }
  },

  async rm(path) {
    await rm(path, { recursive: true, force: true });
  },

  async importFile(from, to) {
    try {
      await link(from, to);
      return;
    } catch (error) {
      const code = errorCodeOf(error);
      // EXDEV: another file system; EPERM/ENOTSUP: one without hard links.
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw error;
    }
    await copyFile(from, to, fsConstants.COPYFILE_EXCL);
    const handle = await open(to, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },

  async hashFile(path) {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      bytes += (chunk as Buffer).length;
      hash.update(chunk as Buffer);
    }
    return { bytes, sha256: hash.digest('hex') };
  },
};
