import type {
  EnumeratorCheckpoint,
  Source,
  SourceReader,
  SourceReaderContext,
  SplitEnumerator,
  SplitEnumeratorContext,
} from '../../src/connector/source.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { StaticSplitEnumerator } from '../base/static-split-enumerator.ts';
import type { FileSplit } from './file-split.ts';
import { DEFAULT_CHUNK_SIZE_BYTES, FileSourceReader } from './file-source-reader.ts';
import type { FileFormat } from './formats.ts';
import { listInputFiles } from './input-files.ts';

/**
 * Options of the file source: which files to read and how their lines become records. Each file is one split,
 * read line by line and resumed from its byte offset after a restore.
 */
export interface FileSourceOptions<T> {
  /**
   * A file, a directory (its regular files, sorted; hidden names starting with `.` or `_` are skipped;
   * subdirectories are not read) or a list of files and directories.
   */
  readonly path: string | readonly string[];
  /** How lines become records: `jsonLines()`, `csv()` or `textLines()`. */
  readonly format: FileFormat<T>;
  /** Bytes per read, default 256 KiB. Affects I/O only, never batch boundaries or output. */
  readonly chunkSizeBytes?: number;
}

/**
 * A bounded source over local files. Each file is one split; the enumerator lists the files when the
 * job starts (failing with an error naming any path that does not exist or cannot be read) and deals
 * them out statically: file i in sorted order goes to subtask i mod parallelism. Each reader reads its
 * files one after another. Output, batch boundaries and hence watermarks depend on the files alone.
 */
export class FileSource<T> implements Source<T, FileSplit> {
  readonly boundedness = 'bounded';
  readonly watermarkEmission = 'per-batch';
  readonly paths: readonly string[];
  readonly format: FileFormat<T>;
  readonly chunkSizeBytes: number;

  constructor(options: FileSourceOptions<T>) {
    const paths = typeof options.path === 'string' ? [options.path] : [...options.path];
    if (paths.length === 0) throw new ConfigurationError('fileSource needs at least one path, got []');
    for (const path of paths) {
      if (typeof path !== 'string' || path.length === 0) {
        throw new ConfigurationError(`fileSource paths must be non-empty strings, got ${JSON.stringify(path)}`);
      }
    }
    if (typeof options.format !== 'object' || options.format === null || typeof options.format.createDecoder !== 'function') {
      throw new ConfigurationError('fileSource needs a format: jsonLines(), csv() or textLines()');
    }
    const chunkSizeBytes = options.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE_BYTES;
    if (!Number.isSafeInteger(chunkSizeBytes) || chunkSizeBytes < 1) {
      throw new ConfigurationError(`fileSource chunkSizeBytes must be a positive integer, got ${chunkSizeBytes}`);
    }
    this.paths = paths;
    this.format = options.format;
    this.chunkSizeBytes = chunkSizeBytes;
  }

  createEnumerator(
    context: SplitEnumeratorContext<FileSplit>,
    restored?: EnumeratorCheckpoint<FileSplit>,
  ): SplitEnumerator<FileSplit> {
    return new StaticSplitEnumerator(context, () => this.discoverSplits(), restored);
  }

  createReader(_context: SourceReaderContext): SourceReader<T, FileSplit> {
    return new FileSourceReader<T>({ format: this.format, chunkSizeBytes: this.chunkSizeBytes });
  }

  describe(): string {
    const shown = this.paths.slice(0, 3).join(', ');
    const more = this.paths.length > 3 ? `, +${this.paths.length - 3} more` : '';
    return `file(${shown}${more})`;
  }

  /** One split per input file, sorted by path, positioned at the start of the file. */
  async discoverSplits(): Promise<FileSplit[]> {
    const files = await listInputFiles(this.paths);
    const splits: FileSplit[] = [];
    for (const path of files) splits.push({ splitId: path, path, offset: 0, line: 1 });
    return splits;
  }
}

/** A file source; see {@link FileSource}. `fileSource({ path: 'orders.jsonl', format: jsonLines({ schema }) })`. */
export function fileSource<T>(options: FileSourceOptions<T>): FileSource<T> {
  return new FileSource<T>(options);
}
