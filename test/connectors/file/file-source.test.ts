import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigurationError } from '../../../src/core/errors.ts';
import { csv, fileSource, jsonLines, textLines } from '../../../connectors/file/index.ts';
import type { FileFormat, FileSplit } from '../../../connectors/file/index.ts';
import {
  RecordingEnumeratorContext,
  RecordingOutput,
  makeTempDir,
  pollBatches,
  readerContext,
} from '../connector-test-kit.ts';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('file-source'));
});
afterEach(async () => {
  await cleanup();
});

function split(path: string): FileSplit {
  return { splitId: path, path, offset: 0, line: 1 };
}

/** Reads `splits` with one reader to end of input. */
async function readSplits<T>(format: FileFormat<T>, splits: readonly FileSplit[], chunkSizeBytes?: number) {
  const source = fileSource({ path: splits.length > 0 ? splits.map((s) => s.path) : ['unused'], format, chunkSizeBytes });
  const reader = source.createReader(readerContext(0, 1));
  await reader.start();
  reader.addSplits(splits);
  reader.notifyNoMoreSplits();
  const output = new RecordingOutput<T>();
  const { batches, status } = await pollBatches(reader, output);
  await reader.close();
  return { output, batches, status, reader };
}

function numberedLines(count: number, render: (i: number) => string = (i) => `line ${i}`): string[] {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) lines.push(render(i));
  return lines;
}

describe('file source enumerator', () => {
  it.each([1, 2, 3, 4])('assigns split i (sorted by path) to subtask i mod %i, then signals no more splits to all', async (parallelism) => {
    const names = ['e.txt', 'a.txt', 'd.txt', 'b.txt', 'c.txt'];
    for (const name of names) await writeFile(join(dir, name), 'x\n');
    const source = fileSource({ path: names.map((name) => join(dir, name)), format: textLines() });
    const context = new RecordingEnumeratorContext<FileSplit>(parallelism);
    const enumerator = source.createEnumerator(context);
    await enumerator.start();
    const sorted = [...names].sort().map((name) => join(dir, name));
    for (let subtask = 0; subtask < parallelism; subtask++) {
      const expected = sorted.filter((_, i) => i % parallelism === subtask).map(split);
      expect(context.splitsOf(subtask)).toEqual(expected);
    }
    expect([...context.noMoreSplits].sort()).toEqual([...Array(parallelism).keys()]);
    // Every assignment precedes every no-more-splits signal.
    const lastAssign = context.log.map((entry) => entry.startsWith('assign')).lastIndexOf(true);
    const firstNoMore = context.log.findIndex((entry) => entry.startsWith('no-more'));
    expect(lastAssign).toBeLessThan(firstNoMore);
  });

  it('lists a directory: regular files only, sorted, hidden files skipped, not recursive', async () => {
    await mkdir(join(dir, 'in', 'nested'), { recursive: true });
    for (const name of ['b.jsonl', 'a.jsonl', '.hidden', '_SUCCESS', 'c.jsonl']) await writeFile(join(dir, 'in', name), '{}\n');
    await writeFile(join(dir, 'in', 'nested', 'z.jsonl'), '{}\n');
    await writeFile(join(dir, 'single.jsonl'), '{}\n');
    const source = fileSource({ path: [join(dir, 'single.jsonl'), join(dir, 'in')], format: jsonLines() });
    const splits = await source.discoverSplits();
    expect(splits.map((s) => s.path)).toEqual(
      [join(dir, 'in', 'a.jsonl'), join(dir, 'in', 'b.jsonl'), join(dir, 'in', 'c.jsonl'), join(dir, 'single.jsonl')],
    );
    expect(splits.every((s) => s.offset === 0 && s.line === 1 && s.splitId === s.path)).toBe(true);
  });

  it('fails with a configuration error naming a path that does not exist', async () => {
    const missing = join(dir, 'orders.jsonl');
    const enumerator = fileSource({ path: missing, format: jsonLines() }).createEnumerator(
      new RecordingEnumeratorContext<FileSplit>(2),
    );
    const error = await enumerator.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(`input file '${missing}' does not exist`);
  });

  it('rejects a file listed twice', async () => {
    await writeFile(join(dir, 'a.txt'), 'x\n');
    const source = fileSource({ path: [join(dir, 'a.txt'), dir], format: textLines() });
    await expect(source.discoverSplits()).rejects.toThrow(`input file '${join(dir, 'a.txt')}' is listed twice`);
  });

  it('restored after discovery, deals out only the unassigned splits', async () => {
    await writeFile(join(dir, 'a.txt'), 'x\n');
    const source = fileSource({ path: dir, format: textLines() });
    const first = new RecordingEnumeratorContext<FileSplit>(2);
    const enumerator = source.createEnumerator(first);
    await enumerator.start();
    enumerator.addSplitsBack([{ ...split(join(dir, 'a.txt')), offset: 2, line: 2 }], 0);
    const checkpoint = enumerator.snapshotState(1);
    expect(checkpoint.unassigned).toEqual([{ ...split(join(dir, 'a.txt')), offset: 2, line: 2 }]);

    // A returned split goes back to its subtask when that reader registers again.
    enumerator.addReader(0);
    expect(first.splitsOf(0)).toEqual([split(join(dir, 'a.txt')), { ...split(join(dir, 'a.txt')), offset: 2, line: 2 }]);

    await rm(join(dir, 'a.txt')); // would fail a rediscovery
    const restoredContext = new RecordingEnumeratorContext<FileSplit>(3);
    await source.createEnumerator(restoredContext, checkpoint).start();
    expect(restoredContext.splitsOf(0)).toEqual(checkpoint.unassigned);
    expect(restoredContext.noMoreSplits.sort()).toEqual([0, 1, 2]);
  });

  it('describes itself by its paths', () => {
    expect(fileSource({ path: 'orders.jsonl', format: jsonLines() }).describe()).toBe('file(orders.jsonl)');
    expect(fileSource({ path: ['a', 'b', 'c', 'd', 'e'], format: jsonLines() }).describe()).toBe('file(a, b, c, +2 more)');
  });

  it('validates its options when the graph is built', () => {
    expect(() => fileSource({ path: [], format: jsonLines() })).toThrow(ConfigurationError);
    expect(() => fileSource({ path: 'x', format: jsonLines(), chunkSizeBytes: 0 })).toThrow('chunkSizeBytes must be a positive integer, got 0');
  });
});

describe('file source reader', () => {
  it.each([1, 3, 7, 64, 256 * 1024])('emits batches of exactly 1000 lines, whatever the chunk size (%i bytes)', async (chunkSizeBytes) => {
    const path = join(dir, 'lines.txt');
    const lines = numberedLines(2500);
    await writeFile(path, `${lines.join('\n')}\n`);
    const { output, batches, status } = await readSplits(textLines(), [split(path)], chunkSizeBytes);
    expect(batches.map((b) => b.records)).toEqual([1000, 1000, 500]);
    expect(output.values()).toEqual(lines);
    expect(output.events.at(-1)).toEqual({ kind: 'finish', splitId: path });
    expect(status).toBe('end-of-input');
  });

  it('batch boundaries depend on the lines only (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3200 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.boolean(),
        async (lineCount, chunkSizeBytes, isNewlineTerminated) => {
          const path = join(dir, `p-${lineCount}-${chunkSizeBytes}.txt`);
          const lines = numberedLines(lineCount, (i) => `${i}:${'é'.repeat(i % 5)}`);
          await writeFile(path, lines.join('\n') + (isNewlineTerminated && lineCount > 0 ? '\n' : ''));
          const { output, batches } = await readSplits(textLines(), [split(path)], chunkSizeBytes);
          const expected: number[] = [];
          for (let left = lineCount; left > 0; left -= 1000) expected.push(Math.min(1000, left));
          expect(batches.map((b) => b.records)).toEqual(expected);
          expect(output.values()).toEqual(lines);
          await rm(path);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('handles CRLF, a last line without a line break, and a UTF-8 BOM', async () => {
    const path = join(dir, 'crlf.txt');
    await writeFile(path, '\uFEFFfirst\r\nsecond\r\n\r\nlast');
    for (const chunkSizeBytes of [1, 2, 5, 1024]) {
      const { output } = await readSplits(textLines(), [split(path)], chunkSizeBytes);
      expect(output.values()).toEqual(['first', 'second', '', 'last']);
    }
  });

  it('text: emits empty lines but no empty line after the final line break', async () => {
    const path = join(dir, 'empty-lines.txt');
    await writeFile(path, '\n\na\n\n');
    const { output } = await readSplits(textLines(), [split(path)]);
    expect(output.values()).toEqual(['', '', 'a', '']);
  });

  it('decodes multibyte UTF-8 characters split across chunks', async () => {
    const path = join(dir, 'utf8.jsonl');
    const records = [{ name: 'Zoë 🚀' }, { name: '東京 – ünïcødé' }, { name: '𝄞𝄞𝄞' }];
    await writeFile(path, records.map((r) => JSON.stringify(r)).join('\n'));
    for (let chunkSizeBytes = 1; chunkSizeBytes <= 9; chunkSizeBytes++) {
      const { output } = await readSplits(jsonLines(), [split(path)], chunkSizeBytes);
      expect(output.values()).toEqual(records);
    }
  });

  it('json lines: skips blank lines, but they still count as lines of a batch and for line numbers', async () => {
    const path = join(dir, 'blank.jsonl');
    const lines = numberedLines(1500, (i) => (i % 3 === 0 ? '   ' : JSON.stringify({ i })));
    lines[9] = '{"i": oops}';
    await writeFile(path, `${lines.join('\n')}\n`);
    const { output, batches } = await readSplits(jsonLines<{ i: number }>(), [split(path)], 100);
    expect(batches.map((b) => b.records + b.badRecords)).toEqual([667, 333]);
    expect(output.values()).toHaveLength(999);
    expect(output.bad()).toEqual([
      expect.objectContaining({ splitId: path, location: `${path}:10`, raw: '{"i": oops}' }),
    ]);
    expect(output.bad()[0]!.message).toMatch(/^invalid JSON: /);
  });

  it('json lines: a schema failure is a bad record whose message names the field', async () => {
    const path = join(dir, 'orders.jsonl');
    await writeFile(path, '{"id":"a","amount":1}\n{"id":"b","amount":"ten"}\n{"id":"c","amount":3}\n');
    const schema = z.object({ id: z.string(), amount: z.number() });
    const { output } = await readSplits(jsonLines({ schema }), [split(path)]);
    expect(output.values()).toEqual([
      { id: 'a', amount: 1 },
      { id: 'c', amount: 3 },
    ]);
    const [bad] = output.bad();
    expect(bad?.location).toBe(`${path}:2`);
    expect(bad?.message).toContain("field 'amount'");
    expect(bad?.raw).toBe('{"id":"b","amount":"ten"}');
  });

  it('csv: header names the columns, quoting per RFC 4180, z.coerce converts, bad rows are reported', async () => {
    const path = join(dir, 'orders.csv');
    await writeFile(
      path,
      'id,note,amount\r\n' +
        '1,"hello, world",10\r\n' +
        '2,"say ""hi""",20\r\n' +
        '\r\n' +
        '3,short\r\n' +
        '4,"multi\r\n' +
        'line",40\r\n' +
        '5,,50\r\n',
    );
    const schema = z.object({ id: z.string(), note: z.string(), amount: z.coerce.number() });
    const { output } = await readSplits(csv({ schema }), [split(path)], 3);
    expect(output.values()).toEqual([
      { id: '1', note: 'hello, world', amount: 10 },
      { id: '2', note: 'say "hi"', amount: 20 },
      { id: '5', note: '', amount: 50 },
    ]);
    expect(output.bad().map((b) => [b.location, b.message])).toEqual([
      [`${path}:5`, 'expected 3 fields (id, note, amount), got 2'],
      [`${path}:6`, 'field 2 has an unterminated quote (quoted fields spanning lines are not supported)'],
      [`${path}:7`, 'field 1 has a quote inside an unquoted field (quote the whole field and double its quotes)'],
    ]);
  });

  it('csv: without header, with given columns and delimiter', async () => {
    const path = join(dir, 'plain.csv');
    await writeFile(path, 'a;1\nb;2\n');
    const { output } = await readSplits(csv({ header: false, columns: ['k', 'v'], delimiter: ';' }), [split(path)]);
    expect(output.values()).toEqual([
      { k: 'a', v: '1' },
      { k: 'b', v: '2' },
    ]);
  });

  it('csv: an unusable header fails the reader, naming file and line', async () => {
    const path = join(dir, 'dup.csv');
    await writeFile(path, 'a,a\n1,2\n');
    const source = fileSource({ path, format: csv() });
    const reader = source.createReader(readerContext(0, 1));
    await reader.start();
    reader.addSplits([split(path)]);
    reader.notifyNoMoreSplits();
    await reader.isAvailable();
    expect(() => reader.pollNext(new RecordingOutput())).toThrow(`${path}:1: csv header names column 'a' twice`);
    await reader.close();
  });

  it('reads its splits one after another in assignment order, finishing each', async () => {
    const paths = ['b.txt', 'a.txt', 'empty.txt', 'c.txt'].map((name) => join(dir, name));
    await writeFile(paths[0]!, numberedLines(1200, (i) => `b${i}`).join('\n'));
    await writeFile(paths[1]!, 'a1\na2\n');
    await writeFile(paths[2]!, '');
    await writeFile(paths[3]!, 'c1\n');
    const { output, batches } = await readSplits(textLines(), paths.map(split), 17);
    expect(batches.map((b) => [b.splitIds, b.records])).toEqual([
      [[paths[0]], 1000],
      [[paths[0]], 200],
      [[paths[1]], 2],
      [[paths[3]], 1],
    ]);
    expect(output.finished()).toEqual(paths);
  });

  it('before splits arrive, has nothing available; without splits and after no-more-splits, ends', async () => {
    const path = join(dir, 'one.txt');
    await writeFile(path, 'x\n');
    const reader = fileSource({ path, format: textLines() }).createReader(readerContext(0, 1));
    await reader.start();
    const output = new RecordingOutput<string>();
    expect(reader.pollNext(output)).toBe('nothing-available');
    const available = reader.isAvailable();
    reader.addSplits([split(path)]);
    await available;
    reader.notifyNoMoreSplits();
    const { status } = await pollBatches(reader, output);
    expect(status).toBe('end-of-input');
    expect(output.values()).toEqual(['x']);
    expect(reader.describeLastRecord(path)).toBe(`${path}:1`);
    await reader.close();
  });

  it('a file deleted before it is read fails the reader with an error naming it', async () => {
    const path = join(dir, 'gone.txt');
    const reader = fileSource({ path, format: textLines() }).createReader(readerContext(0, 1));
    await reader.start();
    reader.addSplits([split(path)]);
    await reader.isAvailable();
    expect(() => reader.pollNext(new RecordingOutput())).toThrow(`input file '${path}' does not exist`);
    await reader.close();
  });

  it('describes the last emitted record as path:line', async () => {
    const path = join(dir, 'd.txt');
    await writeFile(path, numberedLines(1500).join('\n'));
    const reader = fileSource({ path, format: textLines() }).createReader(readerContext(0, 1));
    await reader.start();
    reader.addSplits([split(path)]);
    expect(reader.describeLastRecord(path)).toBe(path);
    const output = new RecordingOutput<string>();
    await pollBatches(reader, output, 1);
    expect(reader.describeLastRecord(path)).toBe(`${path}:1000`);
    await reader.close();
  });
});

describe('file source snapshots', () => {
  /** Reads with a fresh reader per segment: snapshot after `stops[k]` batches, restore, continue. */
  async function readWithRestarts<T>(
    format: FileFormat<T>,
    splits: FileSplit[],
    stops: readonly number[],
    chunkSizes: readonly number[],
  ): Promise<{ values: T[]; bad: string[]; finished: string[] }> {
    const values: T[] = [];
    const bad: string[] = [];
    const finished: string[] = [];
    let state = splits;
    for (let segment = 0; ; segment++) {
      const source = fileSource({ path: 'unused', format, chunkSizeBytes: chunkSizes[segment % chunkSizes.length] });
      const reader = source.createReader(readerContext(0, 1));
      await reader.start();
      reader.addSplits(state);
      reader.notifyNoMoreSplits();
      const output = new RecordingOutput<T>();
      const stop = stops[segment];
      const { status } = await pollBatches(reader, output, stop ?? Number.POSITIVE_INFINITY);
      values.push(...output.values());
      bad.push(...output.bad().map((b) => b.location));
      finished.push(...output.finished());
      state = reader.snapshotState(segment);
      await reader.close();
      if (status === 'end-of-input' || stop === undefined) {
        expect(state).toEqual([]);
        return { values, bad, finished };
      }
      // Snapshots are plain data.
      state = JSON.parse(JSON.stringify(state)) as FileSplit[];
    }
  }

  it('a reader restored from any snapshot continues exactly after the last emitted line (property)', async () => {
    const lineArbitrary = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => s.replaceAll('\n', ' ').replaceAll('\r', ' ')),
      fc.constant(''),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(lineArbitrary, { maxLength: 2600 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (files, stops, chunkSizes, isCrlf) => {
          const splits: FileSplit[] = [];
          for (let f = 0; f < files.length; f++) {
            const path = join(dir, `prop-${f}.txt`);
            await writeFile(path, files[f]!.join(isCrlf ? '\r\n' : '\n') + (f % 2 === 0 && files[f]!.length > 0 ? '\n' : ''));
            splits.push(split(path));
          }
          const expected = files.flatMap((lines, f) =>
            // Without a final line break, a last empty line is not a line.
            f % 2 === 1 && lines.at(-1) === '' ? lines.slice(0, -1) : lines,
          );
          const whole = await readWithRestarts(textLines(), splits, [], [chunkSizes[0]!]);
          expect(whole.values).toEqual(expected);
          const resumed = await readWithRestarts(textLines(), splits, stops, chunkSizes);
          expect(resumed.values).toEqual(expected);
          expect(resumed.finished).toEqual(splits.map((s) => s.splitId));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('a restored csv split re-reads the header and keeps line numbers in bad-record locations', async () => {
    const path = join(dir, 'big.csv');
    const rows = numberedLines(2300, (i) => (i === 1900 ? 'broken' : `${i},v${i}`));
    await writeFile(path, `n,v\n${rows.join('\n')}\n`);
    const result = await readWithRestarts(csv(), [split(path)], [1, 0, 1], [64, 5]);
    expect(result.values).toEqual(rows.filter((_, i) => i !== 1899).map((row) => ({ n: row.split(',')[0], v: row.split(',')[1] })));
    expect(result.bad).toEqual([`${path}:1901`]);
  });

  it('snapshots the position after the last emitted line, as byte offset and next line number', async () => {
    const path = join(dir, 'pos.txt');
    const lines = numberedLines(1001, (i) => (i === 1 ? 'ü' : 'x'));
    await writeFile(path, lines.join('\r\n'));
    const reader = fileSource({ path, format: textLines() }).createReader(readerContext(0, 1));
    await reader.start();
    reader.addSplits([split(path)]);
    expect(reader.snapshotState(1)).toEqual([split(path)]);
    await pollBatches(reader, new RecordingOutput<string>(), 1);
    // 'ü' is 2 bytes; every line ends in \r\n.
    expect(reader.snapshotState(2)).toEqual([{ splitId: path, path, offset: 4 + 999 * 3, line: 1001 }]);
    await reader.close();
  });
});
