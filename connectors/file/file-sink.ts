import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Committer, Sink, SinkWriter, SinkWriterContext } from '../../src/connector/sink.ts';
import { ConfigurationError, EddyError, describeError } from '../../src/core/errors.ts';
import { FileCommitter } from './file-committer.ts';
import { createLineEncoder } from './line-encoders.ts';
import type { FileSinkFormat, LineEncoder } from './line-encoders.ts';
import { partFileExtension } from './part-files.ts';
import { TransactionalFileSinkWriter } from './transactional-file-sink-writer.ts';
import { LineWriteBuffer } from './line-write-buffer.ts';
import { WRITE_THRESHOLD_CHARS } from './write-thresholds.ts';

export { BACKPRESSURE_THRESHOLD_CHARS, WRITE_THRESHOLD_CHARS } from './write-thresholds.ts';

/** Options of the file sink: one line per record. */
export interface FileSinkOptions<T> {
  /**
   * With checkpointing off: at parallelism 1, the file to write; at parallelism > 1, a directory in
   * which each subtask writes `part-<subtask>` (0-based); truncated (created, with parent directories)
   * when the job starts. With checkpointing on (exactly-once): always a directory of part files
   * `part-<subtask>-<attempt>-<seq>.<jsonl|csv|txt>`, each published when a checkpoint completes.
   */
  readonly path: string;
  readonly format: FileSinkFormat<T>;
  /** CSV only: the columns and their order; default: the keys of the first record written. */
  readonly csvColumns?: readonly string[];
}

/**
 * Writes records as lines to local files.
 *
 * With checkpointing off, each subtask writes one file directly ({@link FileSinkWriter}); a restarted
 * job truncates and rewrites it. With checkpointing on, the sink is exactly-once by two-phase commit
 * ({@link TransactionalFileSinkWriter} and {@link FileCommitter}): records go to hidden in-progress part
 * files, a checkpoint barrier seals the current one (pending: recorded in the checkpoint), and the
 * checkpoint's completion publishes it by an atomic rename. A restore commits the restored checkpoint's
 * pending files (idempotently) and removes the in-progress leftovers of failed attempts.
 */
export class FileSink<T> implements Sink<T> {
  readonly path: string;
  readonly format: FileSinkFormat<T>;
  readonly csvColumns: readonly string[] | undefined;

  constructor(options: FileSinkOptions<T>) {
    if (typeof options.path !== 'string' || options.path.length === 0) {
      throw new ConfigurationError(`fileSink needs a path, got ${JSON.stringify(options.path)}`);
    }
    if (options.csvColumns !== undefined && options.format !== 'csv') {
      throw new ConfigurationError(`fileSink csvColumns only apply to format 'csv', got format ${JSON.stringify(options.format)}`);
    }
    // Validates the format now, at graph-build time.
    createLineEncoder(options.format, options.csvColumns);
    this.path = options.path;
    this.format = options.format;
    this.csvColumns = options.csvColumns === undefined ? undefined : [...options.csvColumns];
  }

  createWriter(context: SinkWriterContext): SinkWriter<T> {
    if (context.checkpointingMode !== 'off') {
      return new TransactionalFileSinkWriter<T>({
        directory: resolve(this.path),
        subtask: context.subtask,
        parallelism: context.parallelism,
        attempt: context.attempt,
        extension: partFileExtension(this.format),
        createEncoder: () => createLineEncoder(this.format, this.csvColumns),
      });
    }
    const target = context.parallelism > 1 ? join(this.path, `part-${context.subtask}`) : this.path;
    return new FileSinkWriter<T>(target, this.path, context.parallelism, createLineEncoder(this.format, this.csvColumns));
  }

  /** Publishes pre-committed part files (used with checkpointing on). */
  createCommitter(_context: SinkWriterContext): Committer {
    return new FileCommitter();
  }

  describe(): string {
    return `file(${this.path})`;
  }
}

/** A file sink; see {@link FileSink}. `fileSink({ path: 'out.jsonl', format: 'json-lines' })`. */
export function fileSink<T>(options: FileSinkOptions<T>): FileSink<T> {
  return new FileSink<T>(options);
}

/**
 * One subtask's file, with checkpointing off. `write` appends to an in-memory buffer; once the buffer holds 64 KiB it is handed
 * to a background write (one at a time, in order, through a FileHandle). While more than ~1 MiB is
 * pending, `waitUntilWritable` returns a promise: the task stops, and so, through backpressure, do the
 * sources. A failed background write is kept and thrown (naming the path) by the next call.
 */
export class FileSinkWriter<T> implements SinkWriter<T> {
  private readonly target: string;
  private readonly sinkPath: string;
  private readonly parallelism: number;
  private readonly encoder: LineEncoder<T>;
  private handle: FileHandle | undefined = undefined;
  /** Buffered and in-flight text, the first background failure, backpressure. */
  private readonly text = new LineWriteBuffer();
  /** The chain of background writes; never rejects (failures land in `text.failure`). */
  private writes: Promise<void> = Promise.resolve();

  constructor(target: string, sinkPath: string, parallelism: number, encoder: LineEncoder<T>) {
    this.target = target;
    this.sinkPath = sinkPath;
    this.parallelism = parallelism;
    this.encoder = encoder;
  }

  async open(_restoredState: readonly unknown[]): Promise<void> {
    try {
      await mkdir(dirname(this.target), { recursive: true });
    } catch (error) {
      throw this.describeOpenError(error);
    }
    try {
      this.handle = await open(this.target, 'w');
    } catch (error) {
      throw this.describeOpenError(error);
    }
    this.text.append(this.encoder.start());
  }

  write(value: T, _timestampMs: number): void {
    this.text.throwIfFailed();
    this.text.append(this.encoder.encode(value));
    if (this.text.bufferedChars >= WRITE_THRESHOLD_CHARS) this.startWrite();
  }

  waitUntilWritable(): Promise<void> | undefined {
    return this.text.waitUntilWritable();
  }

  async flush(_isEndOfInput: boolean): Promise<void> {
    this.text.throwIfFailed();
    if (this.text.bufferedChars > 0) this.startWrite();
    await this.writes;
    this.text.throwIfFailed();
    const handle = this.openHandle();
    try {
      await handle.datasync();
    } catch (error) {
      throw this.text.fail(this.target, error);
    }
  }

  snapshotState(_checkpointId: number): unknown[] {
    return [];
  }

  /** Closes the file. Text still buffered (not flushed) is discarded: close follows flush, or a failure. */
  async close(): Promise<void> {
    await this.writes;
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) await handle.close();
  }

  /** Characters buffered or being written; for tests and metrics. */
  pendingCharCount(): number {
    return this.text.pendingChars;
  }

  private startWrite(): void {
    const { text, chars } = this.text.take();
    this.writes = this.writes.then(() => this.text.writeTo(this.handle, this.target, text, chars));
  }

  private openHandle(): FileHandle {
    if (this.handle === undefined) throw new EddyError(`file sink '${this.target}' is not open`);
    return this.handle;
  }

  private describeOpenError(error: unknown): EddyError {
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    if (this.parallelism > 1 && (code === 'EEXIST' || code === 'ENOTDIR')) {
      return new ConfigurationError(
        `file sink path '${this.sinkPath}' must be a directory at parallelism ${this.parallelism} (each subtask writes part-<subtask> inside it), but it is a file`,
        { cause: error },
      );
    }
    if (this.parallelism === 1 && code === 'EISDIR') {
      return new ConfigurationError(
        `file sink path '${this.sinkPath}' is a directory; at parallelism 1 the sink writes a single file there — name a file`,
        { cause: error },
      );
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return new ConfigurationError(`file sink cannot create '${this.target}': permission denied`, { cause: error });
    }
    return new EddyError(`file sink cannot open '${this.target}': ${describeError(error)}`, {
      domain: 'external',
      isRetriable: true,
      cause: error,
    });
  }
}
