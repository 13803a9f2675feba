import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { InputStatus, ReaderOutput, SourceReader } from '../../src/connector/source.ts';
import { BadRecordError, EddyError } from '../../src/core/errors.ts';
import { AvailabilitySignal } from '../base/availability-signal.ts';
import type { FileSplit } from './file-split.ts';
import { INVALID_RECORD } from './formats.ts';
import type { FileFormat, LineDecoder } from './formats.ts';
import { describeInputFileError } from './input-files.ts';

/** Lines per batch: a batch covers the next min(1000, lines left) lines of one file. */
export const MAX_LINES_PER_BATCH = 1000;
/** The background fetcher stops reading ahead once this many complete lines are queued. */
const READ_AHEAD_LINES = 2 * MAX_LINES_PER_BATCH;
/** Bytes per file read when the source sets no `chunkSizeBytes` (256 KiB). */
export const DEFAULT_CHUNK_SIZE_BYTES = 256 * 1024;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Decodes one line's bytes (without its `\n`): drops a trailing `\r`, and a UTF-8 BOM at file start. */
function decodeLineBytes(bytes: Buffer, isFileStart: boolean): string {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === CARRIAGE_RETURN) end--;
  let start = 0;
  if (isFileStart && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  return bytes.toString('utf8', start, end);
}

/** Whether a line is empty or whitespace only; checks past the first character only when it is whitespace. */
function isBlankLine(line: string): boolean {
  if (line.length === 0) return true;
  const first = line.charCodeAt(0);
  if (first !== 32 && first !== 9 && first !== 13 && first !== 0xfeff && first !== 0xa0) return false;
  return line.trim().length === 0;
}

/**
 * One assigned file: its emitted position (what a snapshot records), the queue of complete lines read
 * ahead but not yet emitted, and the fetcher's read position.
 */
class FileSplitCursor<T> {
  readonly splitId: string;
  readonly path: string;
  readonly decoder: LineDecoder<T>;
  /** Byte offset of the next line to emit. */
  offset: number;
  /** 1-based number of the next line to emit (the first queued line, if any). */
  line: number;
  /** Line number of the last emitted line of this split; 0 before the first. */
  lastEmittedLine = 0;

  /** Complete lines read but not emitted, and the byte offset just past each one's line break. */
  readonly lines: string[] = [];
  readonly lineEnds: number[] = [];

  handle: FileHandle | undefined = undefined;
  /** File position of the next byte to read. */
  readOffset: number;
  /** Bytes of an incomplete line, read but not yet ended by `\n`, starting at `partialStart`. */
  partial: Buffer[] = [];
  partialStart: number;
  isHeaderRead: boolean;
  isEof = false;

  constructor(split: FileSplit, decoder: LineDecoder<T>, readsHeader: boolean) {
    this.splitId = split.splitId;
    this.path = split.path;
    this.decoder = decoder;
    this.offset = split.offset;
    this.line = split.line;
    this.readOffset = split.offset;
    this.partialStart = split.offset;
    this.isHeaderRead = !readsHeader;
  }

  queuedLines(): number {
    return this.lines.length;
  }

  /** Whether `pollNext` can emit this split's next batch (or finish it) without waiting. */
  isBatchReady(): boolean {
    return this.isEof || this.lines.length >= MAX_LINES_PER_BATCH;
  }
}

/**
 * What each file reader is created with: the line format and the read size in bytes (I/O only; never changes
 * batch boundaries).
 */
export interface FileSourceReaderOptions<T> {
  readonly format: FileFormat<T>;
  readonly chunkSizeBytes: number;
}

/**
 * Reads its files one after another, in assignment order. A background fetcher reads each file in
 * chunks (`chunkSizeBytes`) through a FileHandle into a bounded queue of complete lines (at most about
 * 2,000 lines ahead, plus one chunk); `pollNext` synchronously emits the next
 * min(1000, lines left in the file) lines once that many are queued or the file ended. Batch
 * boundaries therefore depend only on the file's lines (and the position the split started from),
 * never on chunk size or I/O timing.
 *
 * Lines end at `\n`, a preceding `\r` is dropped, a last line without a line break is a line, and
 * UTF-8 characters may straddle chunks (lines are decoded whole). Formats decide whether blank lines
 * are records; skipped blank lines and the CSV header still count as lines of a batch.
 */
export class FileSourceReader<T> implements SourceReader<T, FileSplit> {
  private readonly format: FileFormat<T>;
  private readonly chunkSizeBytes: number;
  /** Assigned, unfinished splits in assignment order; the first is the one being emitted. */
  private readonly splits: FileSplitCursor<T>[] = [];
  /** Every split ever assigned (also finished ones), for {@link describeLastRecord}. */
  private readonly cursorsById = new Map<string, FileSplitCursor<T>>();
  private readonly availability = new AvailabilitySignal();
  private readonly fetchWakeUp = new AvailabilitySignal();
  private hasNoMoreSplits = false;
  private isClosed = false;
  private fetchError: EddyError | undefined = undefined;
  private fetchLoop: Promise<void> | undefined = undefined;

  constructor(options: FileSourceReaderOptions<T>) {
    this.format = options.format;
    this.chunkSizeBytes = options.chunkSizeBytes;
  }

  async start(): Promise<void> {
    if (this.fetchLoop !== undefined) return;
    this.fetchLoop = this.fetchAll().catch((error: unknown) => {
      this.fetchError = error instanceof EddyError ? error : new EddyError(`file source reader failed: ${String(error)}`, { cause: error });
      this.availability.notify();
    });
  }

  addSplits(splits: readonly FileSplit[]): void {
    for (const split of splits) {
      if (this.splits.some((cursor) => cursor.splitId === split.splitId)) {
        throw new EddyError(`file split '${split.splitId}' was assigned twice to the same reader`);
      }
      const cursor = new FileSplitCursor<T>(split, this.format.createDecoder(), this.format.readsHeader);
      this.splits.push(cursor);
      this.cursorsById.set(split.splitId, cursor);
    }
    this.fetchWakeUp.notify();
    this.availability.notify();
  }

  notifyNoMoreSplits(): void {
    this.hasNoMoreSplits = true;
    this.availability.notify();
  }

  pollNext(output: ReaderOutput<T>): InputStatus {
    if (this.fetchError !== undefined) throw this.fetchError;
    let cursor = this.splits[0];
    // Files that ended with nothing left to emit (empty files) finish without a batch.
    while (cursor !== undefined && cursor.isEof && cursor.queuedLines() === 0) {
      this.finishSplit(cursor, output);
      cursor = this.splits[0];
    }
    if (cursor === undefined) return this.hasNoMoreSplits ? 'end-of-input' : 'nothing-available';
    if (!cursor.isBatchReady()) return 'nothing-available';
    this.emitBatch(cursor, Math.min(MAX_LINES_PER_BATCH, cursor.queuedLines()), output);
    if (cursor.isEof && cursor.queuedLines() === 0) this.finishSplit(cursor, output);
    this.fetchWakeUp.notify();
    return this.status();
  }

  isAvailable(): Promise<void> {
    if (this.fetchError !== undefined || this.status() !== 'nothing-available') return Promise.resolve();
    return this.availability.wait();
  }

  describeLastRecord(splitId: string): string {
    const cursor = this.cursorsById.get(splitId);
    if (cursor === undefined) return splitId;
    return cursor.lastEmittedLine === 0 ? cursor.path : `${cursor.path}:${cursor.lastEmittedLine}`;
  }

  snapshotState(): FileSplit[] {
    const state: FileSplit[] = [];
    for (const cursor of this.splits) {
      state.push({ splitId: cursor.splitId, path: cursor.path, offset: cursor.offset, line: cursor.line });
    }
    return state;
  }

  async close(): Promise<void> {
    this.isClosed = true;
    this.fetchWakeUp.notify();
    if (this.fetchLoop !== undefined) await this.fetchLoop;
    for (const cursor of this.cursorsById.values()) await this.closeHandle(cursor);
  }

  /** What the next `pollNext` will do without waiting, given what is queued now. */
  private status(): InputStatus {
    const cursor = this.splits[0];
    if (cursor === undefined) return this.hasNoMoreSplits ? 'end-of-input' : 'nothing-available';
    return cursor.isBatchReady() ? 'more-available' : 'nothing-available';
  }

  /** The hot path: emits `count` queued lines of `cursor`; the position moves before each emit. */
  private emitBatch(cursor: FileSplitCursor<T>, count: number, output: ReaderOutput<T>): void {
    const lines = cursor.lines;
    const lineEnds = cursor.lineEnds;
    const decoder = cursor.decoder;
    const skipsBlankLines = this.format.skipsBlankLines;
    const splitId = cursor.splitId;
    for (let i = 0; i < count; i++) {
      const text = lines[i]!;
      const lineNumber = cursor.line;
      cursor.line = lineNumber + 1;
      cursor.offset = lineEnds[i]!;
      if (skipsBlankLines && isBlankLine(text)) continue;
      cursor.lastEmittedLine = lineNumber;
      const value = decoder.decode(text);
      if (value === INVALID_RECORD) {
        output.reportBadRecord(splitId, `${cursor.path}:${lineNumber}`, decoder.error, text);
      } else {
        output.collect(splitId, value, Number.NaN);
      }
    }
    lines.splice(0, count);
    lineEnds.splice(0, count);
  }

  private finishSplit(cursor: FileSplitCursor<T>, output: ReaderOutput<T>): void {
    this.splits.shift();
    output.finishSplit(cursor.splitId);
  }

  private queuedLinesTotal(): number {
    let total = 0;
    for (const cursor of this.splits) total += cursor.queuedLines();
    return total;
  }

  /**
   * The background fetcher: reads the first split not yet at end of file, one chunk at a time, while
   * fewer than READ_AHEAD_LINES lines are queued. Splits before it have all been read, so the split
   * being emitted is never starved by read-ahead of a later one.
   */
  private async fetchAll(): Promise<void> {
    while (!this.isClosed) {
      let cursor: FileSplitCursor<T> | undefined = undefined;
      for (const candidate of this.splits) {
        if (!candidate.isEof) {
          cursor = candidate;
          break;
        }
      }
      if (cursor === undefined || this.queuedLinesTotal() >= READ_AHEAD_LINES) {
        await this.fetchWakeUp.wait();
        continue;
      }
      try {
        await this.readChunk(cursor);
      } catch (error) {
        throw describeInputFileError(cursor.path, error);
      }
      if (this.status() !== 'nothing-available') this.availability.notify();
    }
  }

  private async readChunk(cursor: FileSplitCursor<T>): Promise<void> {
    if (cursor.handle === undefined) {
      cursor.handle = await open(cursor.path, 'r');
      if (!cursor.isHeaderRead) await this.readHeader(cursor, cursor.handle);
    }
    const chunk = Buffer.allocUnsafe(this.chunkSizeBytes);
    const { bytesRead } = await cursor.handle.read(chunk, 0, this.chunkSizeBytes, cursor.readOffset);
    if (this.isClosed) return;
    if (bytesRead === 0) {
      if (cursor.partial.length > 0) {
        const bytes = Buffer.concat(cursor.partial);
        cursor.partial = [];
        cursor.lines.push(decodeLineBytes(bytes, cursor.partialStart === 0));
        cursor.lineEnds.push(cursor.readOffset);
      }
      cursor.isEof = true;
      await this.closeHandle(cursor);
      return;
    }
    this.appendLines(cursor, chunk.subarray(0, bytesRead));
  }

  /** Queues every line `data` completes; keeps the unfinished tail for the next chunk. */
  private appendLines(cursor: FileSplitCursor<T>, data: Buffer): void {
    const chunkStart = cursor.readOffset;
    let start = 0;
    for (;;) {
      const newline = data.indexOf(NEWLINE, start);
      if (newline < 0) break;
      let bytes: Buffer;
      if (cursor.partial.length > 0) {
        cursor.partial.push(data.subarray(start, newline));
        bytes = Buffer.concat(cursor.partial);
        cursor.partial = [];
      } else {
        bytes = data.subarray(start, newline);
      }
      cursor.lines.push(decodeLineBytes(bytes, cursor.partialStart === 0));
      const lineEnd = chunkStart + newline + 1;
      cursor.lineEnds.push(lineEnd);
      cursor.partialStart = lineEnd;
      start = newline + 1;
    }
    if (start < data.length) cursor.partial.push(data.subarray(start));
    cursor.readOffset = chunkStart + data.length;
  }

  /**
   * Reads line 1 of the file (the CSV header) and hands it to the decoder. At the start of the file the
   * fetcher then continues after it; a split resuming further on keeps its own position.
   */
  private async readHeader(cursor: FileSplitCursor<T>, handle: FileHandle): Promise<void> {
    const pieces: Buffer[] = [];
    let position = 0;
    let headerEnd = -1;
    let headerBytes: Buffer | undefined = undefined;
    for (;;) {
      const chunk = Buffer.allocUnsafe(this.chunkSizeBytes);
      const { bytesRead } = await handle.read(chunk, 0, this.chunkSizeBytes, position);
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      const newline = data.indexOf(NEWLINE);
      if (newline >= 0) {
        pieces.push(data.subarray(0, newline));
        headerEnd = position + newline + 1;
        break;
      }
      pieces.push(data);
      position += bytesRead;
    }
    if (headerEnd < 0) headerEnd = position;
    headerBytes = Buffer.concat(pieces);
    cursor.isHeaderRead = true;
    if (headerEnd === 0) return; // an empty file: no header, no records
    const error = cursor.decoder.readHeader(decodeLineBytes(headerBytes, true));
    if (error !== undefined) throw new BadRecordError(error, `${cursor.path}:1`);
    if (cursor.readOffset === 0) {
      cursor.readOffset = headerEnd;
      cursor.partialStart = headerEnd;
      cursor.offset = headerEnd;
      cursor.line = 2;
    }
  }

  private async closeHandle(cursor: FileSplitCursor<T>): Promise<void> {
    const handle = cursor.handle;
    if (handle === undefined) return;
    cursor.handle = undefined;
    await handle.close();
  }
}
