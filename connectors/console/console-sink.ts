import type { Sink, SinkWriter, SinkWriterContext } from '../../src/connector/sink.ts';
import { ConfigurationError } from '../../src/core/errors.ts';

/** The part of a Node writable stream the console sink uses (process.stdout by default). */
export interface LineStream {
  /** Returns false when the stream's buffer is full; `drain` follows. */
  write(chunk: string): boolean;
  /** Registers a one-time listener for the stream's `drain` event. */
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Options of the console sink, which prints one line per record (Flink's `print()`); for demos and debugging,
 * not durable.
 */
export interface ConsoleSinkOptions<T> {
  /** Printed before the subtask marker, like Flink's `print(sinkIdentifier)`: `orders> …` or `orders:2> …`. */
  readonly prefix?: string;
  /** Turns a record into its line; default: strings as they are, anything else as JSON. */
  readonly format?: (value: T) => string;
  /** Where lines go; default process.stdout. For tests. */
  readonly stream?: LineStream;
}

/** Characters buffered before writing without waiting for the end of the current batch. */
const WRITE_THRESHOLD_CHARS = 64 * 1024;

function defaultFormat(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}

/**
 * Prints every record as a line on standard output, like Flink's `print()`: at parallelism > 1 each
 * line starts with the 1-based subtask number (`2> record`); a `prefix` comes first (`prefix:2> record`,
 * or `prefix> record` at parallelism 1). Lines of one subtask keep their order; lines of different
 * subtasks interleave. For debugging and demos — not durable.
 */
export class ConsoleSink<T> implements Sink<T> {
  readonly prefix: string | undefined;
  private readonly format: (value: T) => string;
  private readonly stream: LineStream | undefined;

  constructor(options: ConsoleSinkOptions<T> = {}) {
    if (options.format !== undefined && typeof options.format !== 'function') {
      throw new ConfigurationError('consoleSink format must be a function (value) => string');
    }
    this.prefix = options.prefix;
    this.format = options.format ?? defaultFormat;
    this.stream = options.stream;
  }

  createWriter(context: SinkWriterContext): SinkWriter<T> {
    const prefix = linePrefix(this.prefix, context.subtask, context.parallelism);
    return new ConsoleSinkWriter<T>(this.stream ?? process.stdout, prefix, this.format);
  }

  describe(): string {
    return this.prefix === undefined ? 'console' : `console(${this.prefix})`;
  }
}

/** Flink's print() prefixes: `2> `, `orders:2> `, `orders> `, or nothing. */
export function linePrefix(prefix: string | undefined, subtask: number, parallelism: number): string {
  if (parallelism > 1) return prefix === undefined || prefix === '' ? `${subtask + 1}> ` : `${prefix}:${subtask + 1}> `;
  return prefix === undefined || prefix === '' ? '' : `${prefix}> `;
}

/**
 * Buffers lines and writes them once per task turn (a setImmediate after the first buffered line, so a
 * whole batch goes out in one write) or when 64 KiB are buffered. Honours the stream's backpressure:
 * while the stream is full, `waitUntilWritable` returns the promise of its `drain`.
 */
export class ConsoleSinkWriter<T> implements SinkWriter<T> {
  private readonly stream: LineStream;
  private readonly prefix: string;
  private readonly format: (value: T) => string;
  private buffer = '';
  private scheduledWrite: ReturnType<typeof setImmediate> | undefined = undefined;
  private drained: Promise<void> | undefined = undefined;

  constructor(stream: LineStream, prefix: string, format: (value: T) => string) {
    this.stream = stream;
    this.prefix = prefix;
    this.format = format;
  }

  async open(_restoredState: readonly unknown[]): Promise<void> {
    // Standard output is always open.
  }

  write(value: T, _timestampMs: number): void {
    this.buffer += `${this.prefix}${this.format(value)}\n`;
    if (this.buffer.length >= WRITE_THRESHOLD_CHARS) this.writeBuffer();
    else if (this.scheduledWrite === undefined) this.scheduledWrite = setImmediate(() => this.writeBuffer());
  }

  waitUntilWritable(): Promise<void> | undefined {
    return this.drained;
  }

  async flush(_isEndOfInput: boolean): Promise<void> {
    this.writeBuffer();
    if (this.drained !== undefined) await this.drained;
  }

  snapshotState(_checkpointId: number): unknown[] {
    return [];
  }

  async close(): Promise<void> {
    if (this.scheduledWrite !== undefined) clearImmediate(this.scheduledWrite);
    this.scheduledWrite = undefined;
    this.buffer = '';
  }

  private writeBuffer(): void {
    if (this.scheduledWrite !== undefined) clearImmediate(this.scheduledWrite);
    this.scheduledWrite = undefined;
    if (this.buffer.length === 0) return;
    const text = this.buffer;
    this.buffer = '';
    if (this.stream.write(text) || this.drained !== undefined) return;
    this.drained = new Promise<void>((resolve) => {
      this.stream.once('drain', () => {
        this.drained = undefined;
        resolve();
      });
    });
  }
}

/** A console sink; see {@link ConsoleSink}. */
export function consoleSink<T>(options: ConsoleSinkOptions<T> = {}): ConsoleSink<T> {
  return new ConsoleSink<T>(options);
}
