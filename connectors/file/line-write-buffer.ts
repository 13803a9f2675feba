import type { FileHandle } from 'node:fs/promises';
import { EddyError, describeError } from '../../src/core/errors.ts';
import { BACKPRESSURE_THRESHOLD_CHARS } from './write-thresholds.ts';

/**
 * The text side of a file writer: lines are buffered synchronously, handed to background writes in
 * chunks, and counted until written, so that `waitUntilWritable` can hold the task back while more
 * than {@link BACKPRESSURE_THRESHOLD_CHARS} are pending. The first background failure is kept (later
 * calls throw it, a waiting task is released with it); nothing is retried here — the job restarts.
 * Single-threaded: the writer calls it from the task, background writes settle on the same thread.
 */
export class LineWriteBuffer {
  private buffer: string[] = [];
  /** Characters appended but not yet handed to a background write. */
  bufferedChars = 0;
  /** Buffered plus in-flight characters. */
  pendingChars = 0;
  /** The first background failure, if any. */
  failure: EddyError | undefined = undefined;
  private writableWaiter: { promise: Promise<void>; resolve: () => void; reject: (error: EddyError) => void } | undefined =
    undefined;

  append(text: string): void {
    if (text.length === 0) return;
    this.buffer.push(text);
    this.bufferedChars += text.length;
    this.pendingChars += text.length;
  }

  /** Takes the buffered text for a background write; its characters stay pending until {@link writeTo} settles. */
  take(): { readonly text: string; readonly chars: number } {
    const taken = { text: this.buffer.join(''), chars: this.bufferedChars };
    this.buffer = [];
    this.bufferedChars = 0;
    return taken;
  }

  /** Writes `text` fully to `handle`; never rejects: a failure is kept (see {@link fail}). */
  async writeTo(handle: FileHandle | undefined, path: string, text: string, chars: number): Promise<void> {
    if (this.failure !== undefined) return;
    try {
      if (handle === undefined) throw new Error('the file is not open');
      const bytes = Buffer.from(text, 'utf8');
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
    } catch (error) {
      this.fail(path, error);
      return;
    }
    this.pendingChars -= chars;
    const waiter = this.writableWaiter;
    if (waiter !== undefined && this.pendingChars <= BACKPRESSURE_THRESHOLD_CHARS) {
      this.writableWaiter = undefined;
      waiter.resolve();
    }
  }

  /** Keeps the first failure (an external, retriable error naming `path`) and releases a waiting task with it. */
  fail(path: string, error: unknown): EddyError {
    if (this.failure === undefined) {
      this.failure = new EddyError(`file sink cannot write '${path}': ${describeError(error)}`, {
        domain: 'external',
        isRetriable: true,
        cause: error,
      });
      const waiter = this.writableWaiter;
      this.writableWaiter = undefined;
      if (waiter !== undefined) waiter.reject(this.failure);
    }
    return this.failure;
  }

  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** The SinkWriter's backpressure: undefined while at most ~1 MiB is pending, else a promise. */
  waitUntilWritable(): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pendingChars <= BACKPRESSURE_THRESHOLD_CHARS) return undefined;
    if (this.writableWaiter === undefined) {
      let resolve!: () => void;
      let reject!: (error: EddyError) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.writableWaiter = { promise, resolve, reject };
    }
    return this.writableWaiter.promise;
  }
}
