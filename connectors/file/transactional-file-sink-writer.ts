import { mkdir, open, readdir, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SinkWriter } from '../../src/connector/sink.ts';
import { ConfigurationError, EddyError, describeError } from '../../src/core/errors.ts';
import { errorCode, syncDirectory } from './file-committer.ts';
import { LineWriteBuffer } from './line-write-buffer.ts';
import { WRITE_THRESHOLD_CHARS } from './write-thresholds.ts';
import type { LineEncoder } from './line-encoders.ts';
import { finalPartName, inProgressPartName, parsePartFileName } from './part-files.ts';
import type { FileCommittable } from './part-files.ts';

export interface TransactionalFileSinkWriterOptions<T> {
  /** The output directory (absolute, so committables stay valid whatever the working directory). */
  readonly directory: string;
  readonly subtask: number;
  readonly parallelism: number;
  readonly attempt: number;
  /** Extension of committed part files, without the dot. */
  readonly extension: string;
  /** A fresh encoder per part file (a CSV header starts each file). */
  readonly createEncoder: () => LineEncoder<T>;
}

/** One in-progress part file. Its background writes run one at a time, in order, on `writes`. */
interface PartFile<T> {
  readonly inProgress: string;
  readonly final: string;
  readonly encoder: LineEncoder<T>;
  handle: FileHandle | undefined;
  /** Opening, then each write, in order; never rejects (failures land in the writer's `failure`). */
  writes: Promise<void>;
}

/** What a subtask keeps in operator state; one element per subtask, so subtask 0 always gets one on restore. */
interface WriterStateMarker {
  readonly subtask: number;
  readonly attempt: number;
}

/**
 * The exactly-once file sink's writer (two-phase commit, Flink's FileSink): records go to a hidden
 * in-progress part file, created on the first record after a checkpoint; `prepareCommit(n)` seals it —
 * later records go to a new part file — and returns it as a committable; the sealed file is written
 * out, fsynced and closed in the background (`awaitPrepared(n)`); the {@link FileCommitter} renames it
 * to its final name once checkpoint n completed. Output is visible only when committed, and exactly
 * once after any number of failures and restores.
 *
 * `open` removes leftovers of earlier failed attempts: every in-progress file of this subtask (and, on
 * subtask 0, of subtasks ≥ the current parallelism: old subtasks that no longer exist). This is safe
 * because the SinkOperator commits every pending committable of the restored checkpoint — all of them,
 * from all old subtasks: they are union state — before it opens the writer: afterwards no in-progress
 * file is referenced by anything that will ever be committed, and no live writer of this attempt uses
 * another subtask's prefix. The rule depends neither on the parallelism of the restored checkpoint nor
 * on attempt numbers being unique across processes (the sequence number continues after the largest
 * one found for this subtask and attempt, so a repeated attempt never reuses a name).
 * On a fresh start (no restored state: subtask 0 then gets no state element), subtask 0 also removes the
 * committed part files of earlier runs, as the non-transactional sink truncates its file: the
 * directory then holds this run's output only. Nothing is committed before every subtask opened (a
 * commit follows a completed checkpoint), so this cannot remove output of the current run.
 *
 * Buffering and backpressure as in {@link FileSinkWriter}: 64 KiB chunks written in the background,
 * `waitUntilWritable` holds the task back above ~1 MiB pending. A background failure is kept and thrown
 * (naming the path) by the next call.
 */
export class TransactionalFileSinkWriter<T> implements SinkWriter<T> {
  private readonly directory: string;
  private readonly subtask: number;
  private readonly parallelism: number;
  private readonly attempt: number;
  private readonly extension: string;
  private readonly createEncoder: () => LineEncoder<T>;
  /** The part file receiving records; undefined until the first record after open or a seal. */
  private current: PartFile<T> | undefined = undefined;
  private nextSeq = 0;
  /** Text for `current`, not yet handed to a background write. */
  /** Buffered and in-flight text over all part files, the first background failure, backpressure. */
  private readonly text = new LineWriteBuffer();
  /** Seals in flight (write out, fsync, close), by checkpoint id; an entry is removed when its seal settled. */
  private readonly seals = new Map<number, Promise<void>>();

  constructor(options: TransactionalFileSinkWriterOptions<T>) {
    this.directory = options.directory;
    this.subtask = options.subtask;
    this.parallelism = options.parallelism;
    this.attempt = options.attempt;
    this.extension = options.extension;
    this.createEncoder = options.createEncoder;
  }

  async open(restoredState: readonly unknown[]): Promise<void> {
    let names: string[];
    try {
      await mkdir(this.directory, { recursive: true });
      names = await readdir(this.directory);
    } catch (error) {
      throw this.describeOpenError(error);
    }
    const isFreshStart = restoredState.length === 0;
    for (const name of names) {
      const part = parsePartFileName(name, this.extension);
      if (part === undefined) continue;
      if (part.subtask === this.subtask && part.attempt === this.attempt && part.seq >= this.nextSeq) this.nextSeq = part.seq + 1;
      const isLeftover = part.isInProgress
        ? part.subtask === this.subtask || (this.subtask === 0 && part.subtask >= this.parallelism)
        : this.subtask === 0 && isFreshStart;
      if (!isLeftover) continue;
      try {
        await rm(join(this.directory, name), { force: true });
      } catch (error) {
        throw new EddyError(`file sink cannot remove leftover '${join(this.directory, name)}': ${describeError(error)}`, {
          domain: 'external',
          isRetriable: true,
          cause: error,
        });
      }
    }
  }

  write(value: T, _timestampMs: number): void {
    this.text.throwIfFailed();
    const part = this.current ?? this.startPart();
    this.text.append(part.encoder.encode(value));
    if (this.text.bufferedChars >= WRITE_THRESHOLD_CHARS) this.startWrite(part);
  }

  waitUntilWritable(): Promise<void> | undefined {
    return this.text.waitUntilWritable();
  }

  /**
   * Makes everything written so far durable in its in-progress file; commits nothing (with
   * `isEndOfInput` too: the final checkpoint's completion commits the last part file).
   */
  async flush(_isEndOfInput: boolean): Promise<void> {
    this.text.throwIfFailed();
    const part = this.current;
    if (part !== undefined) {
      if (this.text.bufferedChars > 0) this.startWrite(part);
      await part.writes;
    }
    await Promise.all(this.seals.values());
    this.text.throwIfFailed();
    if (part?.handle === undefined) return;
    try {
      await part.handle.sync();
    } catch (error) {
      throw this.text.fail(part.inProgress, error);
    }
  }

  /** Writer state: only a marker, so that a restored subtask 0 can tell a restore from a fresh start. */
  snapshotState(_checkpointId: number): unknown[] {
    const marker: WriterStateMarker = { subtask: this.subtask, attempt: this.attempt };
    return [marker];
  }

  prepareCommit(checkpointId: number): readonly FileCommittable[] {
    this.text.throwIfFailed();
    const part = this.current;
    if (part === undefined) return [];
    if (this.text.bufferedChars > 0) this.startWrite(part);
    this.current = undefined;
    const seal = part.writes.then(() => this.seal(part, checkpointId));
    this.seals.set(checkpointId, seal);
    return [{ inProgress: part.inProgress, final: part.final }];
  }

  async awaitPrepared(checkpointId: number): Promise<void> {
    const seal = this.seals.get(checkpointId);
    if (seal !== undefined) await seal;
    this.text.throwIfFailed();
  }

  /**
   * Closes the open files, leaving them in progress: what was not committed stays invisible and is
   * removed by the next attempt's `open`. Buffered text is discarded (close follows flush, or a failure).
   */
  async close(): Promise<void> {
    const part = this.current;
    this.current = undefined;
    if (part !== undefined) await part.writes;
    await Promise.all(this.seals.values());
    const handle = part?.handle;
    if (part !== undefined) part.handle = undefined;
    if (handle !== undefined) await handle.close();
  }

  /** Characters buffered or being written; for tests and metrics. */
  pendingCharCount(): number {
    return this.text.pendingChars;
  }

  private startPart(): PartFile<T> {
    const seq = this.nextSeq++;
    const encoder = this.createEncoder();
    const part: PartFile<T> = {
      inProgress: join(this.directory, inProgressPartName(this.subtask, this.attempt, seq)),
      final: join(this.directory, finalPartName(this.subtask, this.attempt, seq, this.extension)),
      encoder,
      handle: undefined,
      writes: Promise.resolve(),
    };
    part.writes = this.openPart(part);
    this.current = part;
    this.text.append(encoder.start());
    return part;
  }

  private async openPart(part: PartFile<T>): Promise<void> {
    try {
      // 'wx': the name is new by construction; an existing file would be someone else's output.
      part.handle = await open(part.inProgress, 'wx');
    } catch (error) {
      this.text.fail(part.inProgress, error);
    }
  }

  private startWrite(part: PartFile<T>): void {
    const { text, chars } = this.text.take();
    part.writes = part.writes.then(() => this.text.writeTo(part.handle, part.inProgress, text, chars));
  }

  /** After the part's last write: fsync and close it, then fsync the directory (its entry must survive a crash). */
  private async seal(part: PartFile<T>, checkpointId: number): Promise<void> {
    try {
      if (this.text.failure !== undefined) return;
      const handle = part.handle;
      if (handle === undefined) return;
      part.handle = undefined;
      await handle.sync();
      await handle.close();
      await syncDirectory(this.directory);
    } catch (error) {
      this.text.fail(part.inProgress, error);
    } finally {
      this.seals.delete(checkpointId);
    }
  }


  private describeOpenError(error: unknown): EddyError {
    const code = errorCode(error);
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      return new ConfigurationError(
        `file sink path '${this.directory}' must be a directory when checkpointing is on (each subtask writes part files inside it), but it is a file`,
        { cause: error },
      );
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return new ConfigurationError(`file sink cannot create '${this.directory}': permission denied`, { cause: error });
    }
    return new EddyError(`file sink cannot open '${this.directory}': ${describeError(error)}`, {
      domain: 'external',
      isRetriable: true,
      cause: error,
    });
  }
}
