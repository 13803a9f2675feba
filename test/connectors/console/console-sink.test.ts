import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { consoleSink, linePrefix } from '../../../connectors/console/index.ts';
import type { LineStream } from '../../../connectors/console/index.ts';

/** A stream that reports "full" after `capacity` writes until drained. */
class FakeStream extends EventEmitter implements LineStream {
  readonly chunks: string[] = [];
  private readonly capacity: number;

  constructor(capacity = Number.POSITIVE_INFINITY) {
    super();
    this.capacity = capacity;
  }

  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return this.chunks.length < this.capacity;
  }

  text(): string {
    return this.chunks.join('');
  }
}

describe('console sink', () => {
  it('prefixes lines like Flink print(): 1-based subtask at parallelism > 1, optional identifier', () => {
    expect(linePrefix(undefined, 0, 1)).toBe('');
    expect(linePrefix(undefined, 1, 3)).toBe('2> ');
    expect(linePrefix('orders', 0, 1)).toBe('orders> ');
    expect(linePrefix('orders', 2, 3)).toBe('orders:3> ');
  });

  it('writes one line per record, strings as-is and other values as JSON; flush writes the buffer', async () => {
    const stream = new FakeStream();
    const writer = consoleSink<unknown>({ stream }).createWriter({ subtask: 1, parallelism: 2, operatorUid: 'print', checkpointingMode: 'off', attempt: 0 });
    await writer.open([]);
    writer.write('hello', 0);
    writer.write({ a: 1 }, 0);
    expect(stream.text()).toBe('');
    await writer.flush(false);
    expect(stream.text()).toBe('2> hello\n2> {"a":1}\n');
    await writer.close();
  });

  it('writes once per task turn without a flush, with a custom format', async () => {
    const stream = new FakeStream();
    const writer = consoleSink<number>({ stream, prefix: 'n', format: (n) => `#${n}` }).createWriter({
      subtask: 0,
      parallelism: 1,
      operatorUid: 'print',
      checkpointingMode: 'off',
      attempt: 0,
    });
    await writer.open([]);
    for (let i = 0; i < 3; i++) writer.write(i, 0);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(stream.chunks).toEqual(['n> #0\nn> #1\nn> #2\n']);
    await writer.close();
  });

  it('holds the task back while the stream is full, until it drains', async () => {
    const stream = new FakeStream(1);
    const writer = consoleSink<string>({ stream }).createWriter({ subtask: 0, parallelism: 1, operatorUid: 'print', checkpointingMode: 'off', attempt: 0 });
    await writer.open([]);
    expect(writer.waitUntilWritable()).toBeUndefined();
    writer.write('x'.repeat(70 * 1024), 0); // over the threshold: written now, and the stream is full
    const wait = writer.waitUntilWritable();
    expect(wait).toBeInstanceOf(Promise);
    stream.emit('drain');
    await wait;
    expect(writer.waitUntilWritable()).toBeUndefined();
    await writer.close();
  });
});
