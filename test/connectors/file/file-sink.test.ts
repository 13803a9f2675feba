import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/core/errors.ts';
import type { SinkWriter } from '../../../src/connector/sink.ts';
import { fileSink, FileSinkWriter } from '../../../connectors/file/index.ts';
import { makeTempDir } from '../connector-test-kit.ts';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('file-sink'));
});
afterEach(async () => {
  await cleanup();
});

function context(subtask: number, parallelism: number) {
  return { subtask, parallelism, operatorUid: 'test-sink', checkpointingMode: 'off' as const, attempt: 0 };
}

async function writeAll<T>(writer: SinkWriter<T>, values: readonly T[]): Promise<void> {
  await writer.open([]);
  for (const value of values) {
    writer.write(value, Number.NaN);
    const wait = writer.waitUntilWritable();
    if (wait !== undefined) await wait;
  }
  await writer.flush(true);
  await writer.close();
}

describe('file sink', () => {
  it('at parallelism 1 writes json lines to the path, truncating what was there', async () => {
    const path = join(dir, 'out', 'result.jsonl');
    await mkdir(join(dir, 'out'));
    await writeFile(path, 'old content that is longer than the new one\n'.repeat(10));
    await writeAll(fileSink({ path, format: 'json-lines' }).createWriter(context(0, 1)), [{ a: 1 }, 'x', null]);
    expect(await readFile(path, 'utf8')).toBe('{"a":1}\n"x"\nnull\n');
  });

  it('at parallelism > 1 writes part-<subtask> files inside the path', async () => {
    const path = join(dir, 'parts');
    const sink = fileSink<number>({ path, format: { encode: (n) => `n=${n}` } });
    for (let subtask = 0; subtask < 3; subtask++) await writeAll(sink.createWriter(context(subtask, 3)), [subtask, subtask + 10]);
    expect((await readdir(path)).sort()).toEqual(['part-0', 'part-1', 'part-2']);
    expect(await readFile(join(path, 'part-2'), 'utf8')).toBe('n=2\nn=12\n');
  });

  it('writes csv with a header from the first record or from csvColumns, quoting as needed', async () => {
    const first = join(dir, 'first.csv');
    await writeAll(fileSink({ path: first, format: 'csv' }).createWriter(context(0, 1)), [
      { word: 'a,b', count: 2 },
      { word: 'say "x"', count: 1 },
    ]);
    expect(await readFile(first, 'utf8')).toBe('word,count\n"a,b",2\n"say ""x""",1\n');

    const fixed = join(dir, 'fixed.csv');
    await writeAll(fileSink({ path: fixed, format: 'csv', csvColumns: ['count', 'word'] }).createWriter(context(0, 1)), [
      { word: 'w', count: 3, ignored: true },
    ]);
    expect(await readFile(fixed, 'utf8')).toBe('count,word\n3,w\n');

    const empty = join(dir, 'empty.csv');
    await writeAll(fileSink({ path: empty, format: 'csv', csvColumns: ['a'] }).createWriter(context(0, 1)), []);
    expect(await readFile(empty, 'utf8')).toBe('a\n');
  });

  it('applies backpressure while more than ~1 MiB is pending and writes everything in order', async () => {
    const path = join(dir, 'big.txt');
    const writer = fileSink<string>({ path, format: { encode: (s) => s } }).createWriter(context(0, 1));
    expect(writer).toBeInstanceOf(FileSinkWriter);
    const fileWriter = writer as FileSinkWriter<string>;
    await writer.open([]);
    const line = 'y'.repeat(1023);
    const lines = 3000; // ~3 MiB
    let waits = 0;
    let maxPendingChars = 0;
    for (let i = 0; i < lines; i++) {
      writer.write(`${line.slice(String(i).length)}${i}`, 0);
      maxPendingChars = Math.max(maxPendingChars, fileWriter.pendingCharCount());
      const wait = writer.waitUntilWritable();
      if (wait !== undefined) {
        expect(fileWriter.pendingCharCount()).toBeGreaterThan(1024 * 1024);
        waits++;
        await wait;
        expect(fileWriter.pendingCharCount()).toBeLessThanOrEqual(1024 * 1024);
      }
    }
    expect(waits).toBeGreaterThan(0);
    expect(maxPendingChars).toBeLessThan(1024 * 1024 + 64 * 1024 + 2048);
    await writer.flush(true);
    expect(fileWriter.pendingCharCount()).toBe(0);
    await writer.close();
    const written = (await readFile(path, 'utf8')).split('\n');
    expect(written).toHaveLength(lines + 1);
    for (let i = 0; i < lines; i++) expect(written[i]!.endsWith(String(i))).toBe(true);
  });

  it('flush writes what is buffered even below the write threshold', async () => {
    const path = join(dir, 'small.jsonl');
    const writer = fileSink({ path, format: 'json-lines' }).createWriter(context(0, 1));
    await writer.open([]);
    writer.write({ n: 1 }, 0);
    expect(await readFile(path, 'utf8')).toBe('');
    await writer.flush(false);
    expect(await readFile(path, 'utf8')).toBe('{"n":1}\n');
    await writer.close();
  });

  it('surfaces a failed background write from the next call, naming the path', async () => {
    // Writes to /dev/full fail with ENOSPC.
    const writer = fileSink<string>({ path: '/dev/full', format: { encode: (s) => s } }).createWriter(context(0, 1));
    await writer.open([]);
    const chunk = 'z'.repeat(70 * 1024);
    writer.write(chunk, 0); // starts a background write
    await expect(writer.flush(false)).rejects.toThrow("file sink cannot write '/dev/full'");
    expect(() => writer.write('more', 0)).toThrow("file sink cannot write '/dev/full'");
    await expect(writer.waitUntilWritable()).rejects.toThrow("file sink cannot write '/dev/full'");
    await writer.close();
  });

  it('explains a path of the wrong kind', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    const parallel = fileSink({ path: file, format: 'json-lines' }).createWriter(context(1, 2));
    await expect(parallel.open([])).rejects.toThrow(ConfigurationError);
    await expect(parallel.open([])).rejects.toThrow(`file sink path '${file}' must be a directory at parallelism 2`);
    const single = fileSink({ path: dir, format: 'json-lines' }).createWriter(context(0, 1));
    await expect(single.open([])).rejects.toThrow(`file sink path '${dir}' is a directory`);
  });

  it('validates its options when the graph is built', () => {
    expect(() => fileSink({ path: '', format: 'json-lines' })).toThrow(ConfigurationError);
    expect(() => fileSink({ path: 'x', format: 'json-lines', csvColumns: ['a'] })).toThrow('csvColumns only apply');
    expect(() => fileSink({ path: 'x', format: 'xml' as 'csv' })).toThrow("file sink format must be 'json-lines', 'csv' or { encode(value) }");
    expect(fileSink({ path: 'out.jsonl', format: 'json-lines' }).describe()).toBe('file(out.jsonl)');
  });
});
