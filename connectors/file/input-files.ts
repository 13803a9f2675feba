import { access, readdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError, EddyError, describeError } from '../../src/core/errors.ts';

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Turns a failure to open or read an input file into an error that names the path: a missing or
 * unreadable file is the user's to fix; anything else is an external (retriable) I/O failure.
 */
export function describeInputFileError(path: string, error: unknown): EddyError {
  if (error instanceof EddyError) return error;
  switch (errorCode(error)) {
    case 'ENOENT':
      return new ConfigurationError(`input file '${path}' does not exist`, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new ConfigurationError(`input file '${path}' is not readable (permission denied)`, { cause: error });
    case 'EISDIR':
      return new ConfigurationError(`input file '${path}' is a directory`, { cause: error });
    default:
      return new EddyError(`cannot read input file '${path}': ${describeError(error)}`, {
        domain: 'external',
        isRetriable: true,
        cause: error,
      });
  }
}

/**
 * Hidden files are skipped when listing a directory, as Flink's default file filter does: names
 * starting with `.` or `_` (in-progress files of sinks, `_SUCCESS` markers, editor and checksum files).
 */
function isHiddenFileName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('_');
}

/**
 * Expands the source's paths into the sorted list of input files: a path naming a file is taken as is;
 * a path naming a directory contributes its regular, non-hidden files (not recursively). Fails with a
 * ConfigurationError naming the path when it does not exist or is not readable, or when a file is
 * listed twice.
 */
export async function listInputFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
      await access(path, isDirectory ? constants.R_OK | constants.X_OK : constants.R_OK);
    } catch (error) {
      throw describeInputFileError(path, error);
    }
    if (!isDirectory) {
      files.push(path);
      continue;
    }
    let names: string[];
    try {
      names = await readdir(path);
    } catch (error) {
      throw describeInputFileError(path, error);
    }
    for (const name of names) {
      if (isHiddenFileName(name)) continue;
      const file = join(path, name);
      let isFile: boolean;
      try {
        isFile = (await stat(file)).isFile();
      } catch (error) {
        // A dangling symbolic link or a file deleted while listing: name it.
        throw describeInputFileError(file, error);
      }
      if (!isFile) continue;
      try {
        await access(file, constants.R_OK);
      } catch (error) {
        throw describeInputFileError(file, error);
      }
      files.push(file);
    }
  }
  files.sort(comparePaths);
  for (let i = 1; i < files.length; i++) {
    if (files[i] === files[i - 1]) {
      throw new ConfigurationError(`input file '${files[i]}' is listed twice; name each file or directory once`);
    }
  }
  return files;
}

/** Code-unit order, the same on every machine (no locale). */
function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
