import { access, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Committer } from '../../src/connector/sink.ts';
import { EddyError, describeError } from '../../src/core/errors.ts';
import { toFileCommittable } from './part-files.ts';

/**
 * Publishes the exactly-once file sink's pre-committed part files: renames each in-progress file to its
 * final name (atomic within a directory), then fsyncs the directories so the renames survive a crash.
 *
 * Idempotent, and safe when several subtasks commit the same committables at once (they do on restore:
 * the pending committables are union state): a missing in-progress file whose final file exists was
 * committed already. Both missing means the output of a completed checkpoint is gone — an error naming
 * the file, never a silent loss. Both present means the final name is taken by another file: refused
 * rather than overwritten.
 */
export class FileCommitter implements Committer {
  async commit(committables: readonly unknown[]): Promise<void> {
    const directories = new Set<string>();
    for (const value of committables) {
      const { inProgress, final } = toFileCommittable(value);
      await commitPartFile(inProgress, final);
      directories.add(dirname(final));
    }
    for (const directory of directories) await syncDirectory(directory);
  }
}

async function commitPartFile(inProgress: string, final: string): Promise<void> {
  if (await exists(final)) {
    if (!(await exists(inProgress))) return;
    throw new EddyError(
      `file sink cannot commit '${inProgress}': the final file '${final}' already exists (is another job or sink writing to this directory?)`,
      { domain: 'external', isRetriable: false },
    );
  }
  try {
    await rename(inProgress, final);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') {
      // Another subtask committing the same restored committable may have renamed it just now.
      if (await exists(final)) return;
      throw new EddyError(
        `file sink cannot commit '${final}': neither it nor its in-progress file '${inProgress}' exists — output of a completed checkpoint is lost (was the output directory changed outside the job?)`,
        { domain: 'external', isRetriable: false, cause: error },
      );
    }
    throw new EddyError(`file sink cannot commit '${inProgress}' to '${final}': ${describeError(error)}`, {
      domain: 'external',
      isRetriable: true,
      cause: error,
    });
  }
}

/** fsync of a directory: makes the creation, rename or removal of its entries durable. */
export async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new EddyError(`file sink cannot sync directory '${directory}': ${describeError(error)}`, {
      domain: 'external',
      isRetriable: true,
      cause: error,
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw new EddyError(`file sink cannot check '${path}': ${describeError(error)}`, {
      domain: 'external',
      isRetriable: true,
      cause: error,
    });
  }
}

export function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}
