import { EddyError } from '../../src/core/errors.ts';
import type { FileSinkFormat } from './line-encoders.ts';

/**
 * Names of the exactly-once file sink's part files. Subtask `s` of run attempt `a` writes its `q`-th
 * file (q = 0, 1, … per subtask and attempt) as the hidden `.part-s-a-q.inprogress` and publishes it by
 * renaming it to `part-s-a-q.<extension>`. Readers of the output (the file source too) skip names
 * starting with `.`, so only committed files are visible. One sink per directory: two sinks writing the
 * same directory would clash on these names.
 */

/** A pre-committed part file, as recorded in a checkpoint: renaming `inProgress` to `final` publishes it. */
export interface FileCommittable {
  readonly inProgress: string;
  readonly final: string;
}

/** A parsed part-file name. */
export interface PartFileName {
  readonly isInProgress: boolean;
  readonly subtask: number;
  readonly attempt: number;
  readonly seq: number;
}

const IN_PROGRESS_NAME = /^\.part-(\d+)-(\d+)-(\d+)\.inprogress$/;
const FINAL_NAME = /^part-(\d+)-(\d+)-(\d+)\.([A-Za-z0-9]+)$/;

export function inProgressPartName(subtask: number, attempt: number, seq: number): string {
  return `.part-${subtask}-${attempt}-${seq}.inprogress`;
}

export function finalPartName(subtask: number, attempt: number, seq: number, extension: string): string {
  return `part-${subtask}-${attempt}-${seq}.${extension}`;
}

/**
 * The part file a directory entry names, or undefined for any other entry (also for a final part file
 * with another extension than `extension`: it belongs to some other sink).
 */
export function parsePartFileName(name: string, extension: string): PartFileName | undefined {
  const inProgress = IN_PROGRESS_NAME.exec(name);
  if (inProgress !== null) {
    return { isInProgress: true, subtask: Number(inProgress[1]), attempt: Number(inProgress[2]), seq: Number(inProgress[3]) };
  }
  const final = FINAL_NAME.exec(name);
  if (final === null || final[4] !== extension) return undefined;
  return { isInProgress: false, subtask: Number(final[1]), attempt: Number(final[2]), seq: Number(final[3]) };
}

/** The extension of committed part files: `jsonl`, `csv`, or `txt` for a custom encoding. */
export function partFileExtension<T>(format: FileSinkFormat<T>): string {
  if (format === 'json-lines') return 'jsonl';
  if (format === 'csv') return 'csv';
  return 'txt';
}

/** Checks the shape of a committable read back from a checkpoint. */
export function toFileCommittable(value: unknown): FileCommittable {
  if (typeof value === 'object' && value !== null) {
    const { inProgress, final } = value as { inProgress?: unknown; final?: unknown };
    if (typeof inProgress === 'string' && typeof final === 'string') return { inProgress, final };
  }
  throw new EddyError(`file sink: malformed committable in checkpoint state: ${JSON.stringify(value)}`, {
    domain: 'internal',
  });
}
