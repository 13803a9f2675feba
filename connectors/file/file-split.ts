import type { SourceSplit } from '../../src/connector/source.ts';

/**
 * One input file, with the position to resume from. Plain msgpack-safe data. `offset` is the byte
 * offset of the next line to read and `line` its 1-based number; both advance together, line by line,
 * so a split restored from a snapshot resumes exactly after the last emitted line. A CSV file's header
 * is read again from the start of the file when a split resumes past it.
 */
export interface FileSplit extends SourceSplit {
  /** The path, as given or as listed from the directory (`dir/name`). */
  readonly splitId: string;
  /** The file to read, as opened. */
  readonly path: string;
  /** Byte offset of the next line. */
  readonly offset: number;
  /** 1-based number of the next line. */
  readonly line: number;
}
