import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, EddyError } from '../../../src/core/errors.ts';
import type { SinkWriter } from '../../../src/connector/sink.ts';
import { FileCommitter } from '../../../connectors/file/file-committer.ts';
import { fileSink, FileSinkWriter } from '../../../connectors/file/index.ts';
import type { FileSinkFormat } from '../../../connectors/file/index.ts';
import { parsePartFileName } from '../../../connectors/file/part-files.ts';
import type { FileCommittable } from '../../../connectors/file/part-files.ts';
import { TransactionalFileSinkWriter } from '../../../connectors/file/transactional-file-sink-writer.ts';
import { makeTempDir } from '../connector-test-kit.ts';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('file-sink-eo'));
});
afterEach(async () => {
  await cleanup();
});

function context(subtask: number, parallelism: number, attempt = 0) {
  return { subtask, parallelism, operatorUid: 'test-sink', checkpointingMode: 'exactly-once' as const, attempt };
}

function writerFor<T>(path: string, format: FileSinkFormat<T>, subtask = 0, parallelism = 1, attempt = 0, csvColumns?: readonly string[]) {
  const sink = fileSink<T>(csvColumns === undefined ? { path, format } : { path, format, csvColumns });
  return { writer: sink.createWriter(context(subtask, parallelism, attempt)), committer: sink.createCommitter(context(subtask, parallelism, attempt)) };
}

/** Pre-commits checkpoint `checkpointId` and waits until it is durable, as the SinkOperator does. */
async function prepare<T>(writer: SinkWriter<T>, checkpointId: number): Promise<FileCommittable[]> {
  const committables = writer.prepareCommit!(checkpointId) as FileCommittable[];
  await writer.awaitPrepared!(checkpointId);
  return committables;
}

async function sortedNames(path: string): Promise<string[]> {
  return (await readdir(path)).sort();
}

describe('exactly-once file sink: writer', () => {
  it('writes to a hidden in-progress part file per checkpoint and creates none without records', async () => {
    const out = join(dir, 'out');
    const { writer } = writerFor<unknown>(out, 'json-lines');
    expect(writer).toBeInstanceOf(TransactionalFileSinkWriter);
    expect(writer).not.toBeInstanceOf(FileSinkWriter);
    await writer.open([]);
    expect(await prepare(writer, 1)).toEqual([]);
    expect(await sortedNames(out)).toEqual([]);

    writer.write({ a: 1 }, 0);
    writer.write('x', 0);
    const first = await prepare(writer, 2);
    expect(first).toEqual([{ inProgress: join(out, '.part-0-0-0.inprogress'), final: join(out, 'part-0-0-0.jsonl') }]);
    // Durable once awaitPrepared resolved.
    expect(await readFile(first[0]!.inProgress, 'utf8')).toBe('{"a":1}\n"x"\n');

    writer.write(null, 0);
    expect(await prepare(writer, 3)).toEqual([{ inProgress: join(out, '.part-0-0-1.inprogress'), final: join(out, 'part-0-0-1.jsonl') }]);
    expect(await prepare(writer, 4)).toEqual([]);
    expect(writer.snapshotState(4)).toEqual([{ subtask: 0, attempt: 0 }]);
    await writer.close();
    expect(await sortedNames(out)).toEqual(['.part-0-0-0.inprogress', '.part-0-0-1.inprogress']);
  });

  it('names part files by subtask, attempt and sequence, with the format’s extension; every CSV part has its header', async () => {
    const out = join(dir, 'csv');
    const { writer, committer } = writerFor<Record<string, unknown>>(out, 'csv', 2, 3, 7);
    await writer.open([]);
    writer.write({ word: 'a', count: 1 }, 0);
    const first = await prepare(writer, 1);
    writer.write({ word: 'b', count: 2 }, 0);
    const second = await prepare(writer, 2);
    await committer.commit([...first, ...second]);
    await writer.close();
    expect(await sortedNames(out)).toEqual(['part-2-7-0.csv', 'part-2-7-1.csv']);
    expect(await readFile(join(out, 'part-2-7-0.csv'), 'utf8')).toBe('word,count\na,1\n');
    expect(await readFile(join(out, 'part-2-7-1.csv'), 'utf8')).toBe('word,count\nb,2\n');

    const custom = join(dir, 'custom');
    const { writer: textWriter } = writerFor<number>(custom, { encode: (n) => `n=${n}` });
    await textWriter.open([]);
    textWriter.write(1, 0);
    expect((await prepare(textWriter, 1))[0]!.final).toBe(join(custom, 'part-0-0-0.txt'));
    await textWriter.close();
  });

  it('keeps records written after prepareCommit(n) out of n’s file even while n is still being sealed', async () => {
    const out = join(dir, 'out');
    const { writer } = writerFor<string>(out, { encode: (s) => s });
    await writer.open([]);
    const line = 'q'.repeat(1000);
    for (let i = 0; i < 200; i++) writer.write(`${i}${line}`, 0); // > 64 KiB: background writes started
    const committables = writer.prepareCommit!(1) as FileCommittable[];
    writer.write('next', 0);
    await writer.awaitPrepared!(1);
    await writer.flush(false);
    const sealed = (await readFile(committables[0]!.inProgress, 'utf8')).split('\n');
    expect(sealed).toHaveLength(201);
    for (let i = 0; i < 200; i++) expect(sealed[i]!.startsWith(`${i}q`)).toBe(true);
    expect(await readFile(join(out, '.part-0-0-1.inprogress'), 'utf8')).toBe('next\n');
    await writer.close();
  });

  it('applies backpressure across part files and loses nothing', async () => {
    const out = join(dir, 'big');
    const { writer, committer } = writerFor<string>(out, { encode: (s) => s });
    const fileWriter = writer as TransactionalFileSinkWriter<string>;
    await writer.open([]);
    const line = 'y'.repeat(1023);
    const lines = 3000; // ~3 MiB
    let waits = 0;
    const committables: FileCommittable[] = [];
    for (let i = 0; i < lines; i++) {
      writer.write(`${line.slice(String(i).length)}${i}`, 0);
      if (i % 1000 === 999) committables.push(...(writer.prepareCommit!(i) as FileCommittable[]));
      const wait = writer.waitUntilWritable();
      if (wait !== undefined) {
        expect(fileWriter.pendingCharCount()).toBeGreaterThan(1024 * 1024);
        waits++;
        await wait;
      }
    }
    expect(waits).toBeGreaterThan(0);
    await writer.awaitPrepared!(2999);
    expect(fileWriter.pendingCharCount()).toBe(0);
    await committer.commit(committables);
    await writer.close();
    const written: string[] = [];
    for (const name of await sortedNames(out)) written.push(...(await readFile(join(out, name), 'utf8')).split('\n').filter((l) => l !== ''));
    expect(written).toHaveLength(lines);
    for (let i = 0; i < lines; i++) expect(written[i]!.endsWith(String(i))).toBe(true);
  });

  it('flush makes the in-progress file durable but publishes nothing', async () => {
    const out = join(dir, 'out');
    const { writer } = writerFor<string>(out, { encode: (s) => s });
    await writer.open([]);
    writer.write('a', 0);
    await writer.flush(true);
    expect(await sortedNames(out)).toEqual(['.part-0-0-0.inprogress']);
    expect(await readFile(join(out, '.part-0-0-0.inprogress'), 'utf8')).toBe('a\n');
    await writer.close();
  });

  it('on open removes its own in-progress leftovers; subtask 0 also those of subtasks beyond the parallelism', async () => {
    const out = join(dir, 'out');
    await mkdir(out);
    const leftovers = ['.part-0-0-3.inprogress', '.part-1-0-0.inprogress', '.part-2-0-0.inprogress', '.part-5-4-1.inprogress'];
    const committed = ['part-0-0-0.txt', 'part-2-0-1.txt'];
    for (const name of [...leftovers, ...committed, 'readme.txt', '.other-hidden']) await writeFile(join(out, name), name);
    const restored = [{ subtask: 0, attempt: 0 }];

    const { writer: one } = writerFor<string>(out, { encode: (s) => s }, 1, 2, 1);
    await one.open(restored);
    expect(await sortedNames(out)).toEqual(
      ['.part-0-0-3.inprogress', '.part-2-0-0.inprogress', '.part-5-4-1.inprogress', ...committed, 'readme.txt', '.other-hidden'].sort(),
    );
    const { writer: zero } = writerFor<string>(out, { encode: (s) => s }, 0, 2, 1);
    await zero.open(restored);
    expect(await sortedNames(out)).toEqual([...committed, 'readme.txt', '.other-hidden'].sort());
    await one.close();
    await zero.close();
  });

  it('on a fresh start subtask 0 also removes committed part files of an earlier run (its format only)', async () => {
    const out = join(dir, 'out');
    await mkdir(out);
    for (const name of ['part-0-0-0.jsonl', 'part-3-1-2.jsonl', 'part-0-0-0.csv', 'part-0', 'data.jsonl']) await writeFile(join(out, name), 'x');
    const { writer: one } = writerFor<unknown>(out, 'json-lines', 1, 2);
    await one.open([]);
    expect(await sortedNames(out)).toHaveLength(5);
    const { writer: zero } = writerFor<unknown>(out, 'json-lines', 0, 2);
    await zero.open([]);
    expect(await sortedNames(out)).toEqual(['data.jsonl', 'part-0', 'part-0-0-0.csv']);
    await one.close();
    await zero.close();
  });

  it('continues the sequence after existing files of the same subtask and attempt', async () => {
    const out = join(dir, 'out');
    await mkdir(out);
    await writeFile(join(out, 'part-0-3-4.txt'), 'x\n');
    const { writer } = writerFor<string>(out, { encode: (s) => s }, 0, 1, 3);
    await writer.open([{ subtask: 0, attempt: 2 }]);
    writer.write('y', 0);
    expect((await prepare(writer, 1))[0]!.final).toBe(join(out, 'part-0-3-5.txt'));
    await writer.close();
  });

  it('explains an output path that is a file', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    const { writer } = writerFor<unknown>(file, 'json-lines');
    await expect(writer.open([])).rejects.toThrow(ConfigurationError);
    await expect(writer.open([])).rejects.toThrow(`file sink path '${file}' must be a directory when checkpointing is on`);
  });

  it('surfaces a failed background write from awaitPrepared and the next calls, naming the file', async () => {
    const out = join(dir, 'out');
    const { writer } = writerFor<string>(out, { encode: (s) => s });
    await writer.open([]);
    writer.write('a', 0);
    await writer.flush(false);
    // Replace the output directory by a file: the next part file cannot be created.
    const committables = await prepare(writer, 1);
    expect(committables).toHaveLength(1);
    await rm(out, { recursive: true });
    await writeFile(out, '');
    writer.write('b', 0);
    const failed = writer.prepareCommit!(2);
    expect(failed).toHaveLength(1);
    await expect(writer.awaitPrepared!(2)).rejects.toThrow(`file sink cannot write '${join(out, '.part-0-0-1.inprogress')}'`);
    expect(() => writer.write('c', 0)).toThrow(EddyError);
    expect(() => writer.prepareCommit!(3)).toThrow('file sink cannot write');
    await expect(writer.flush(true)).rejects.toThrow('file sink cannot write');
    await writer.close();
  });
});

describe('exactly-once file sink: committer', () => {
  async function preparedFile(name: string): Promise<FileCommittable> {
    const out = join(dir, 'out');
    await mkdir(out, { recursive: true });
    const committable = { inProgress: join(out, `.${name}.inprogress`), final: join(out, name) };
    await writeFile(committable.inProgress, `${name}\n`);
    return committable;
  }

  it('renames in-progress files to their final names, idempotently', async () => {
    const a = await preparedFile('part-0-0-0.txt');
    const b = await preparedFile('part-1-0-0.txt');
    const committer = new FileCommitter();
    await committer.commit([a, b]);
    expect(await sortedNames(join(dir, 'out'))).toEqual(['part-0-0-0.txt', 'part-1-0-0.txt']);
    await committer.commit([a, b]);
    await Promise.all([committer.commit([a]), new FileCommitter().commit([a])]);
    expect(await readFile(a.final, 'utf8')).toBe('part-0-0-0.txt\n');
  });

  it('commits the same files from several committers at once without error or loss', async () => {
    const files = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => preparedFile(`part-${i}-0-0.txt`)));
    await Promise.all([0, 1, 2, 3].map(() => new FileCommitter().commit(files)));
    expect(await sortedNames(join(dir, 'out'))).toEqual(files.map((file) => file.final.slice(join(dir, 'out').length + 1)).sort());
  });

  it('refuses to lose data: both files missing is an error naming them', async () => {
    const a = await preparedFile('part-0-0-0.txt');
    await rm(a.inProgress);
    await expect(new FileCommitter().commit([a])).rejects.toThrow(
      `file sink cannot commit '${a.final}': neither it nor its in-progress file '${a.inProgress}' exists`,
    );
  });

  it('refuses to overwrite an existing final file', async () => {
    const a = await preparedFile('part-0-0-0.txt');
    await writeFile(a.final, 'someone else');
    await expect(new FileCommitter().commit([a])).rejects.toThrow(`the final file '${a.final}' already exists`);
    expect(await readFile(a.final, 'utf8')).toBe('someone else');
  });

  it('rejects a malformed committable', async () => {
    await expect(new FileCommitter().commit([{ inProgress: 1 }])).rejects.toThrow('malformed committable');
  });
});

describe('part-file names', () => {
  it('parses in-progress and final names, ignoring other files and other formats', () => {
    expect(parsePartFileName('.part-3-12-7.inprogress', 'jsonl')).toEqual({ isInProgress: true, subtask: 3, attempt: 12, seq: 7 });
    expect(parsePartFileName('part-3-12-7.jsonl', 'jsonl')).toEqual({ isInProgress: false, subtask: 3, attempt: 12, seq: 7 });
    expect(parsePartFileName('part-3-12-7.csv', 'jsonl')).toBeUndefined();
    expect(parsePartFileName('part-3', 'jsonl')).toBeUndefined();
    expect(parsePartFileName('.part-3-1.inprogress', 'jsonl')).toBeUndefined();
    expect(parsePartFileName('xpart-3-12-7.jsonl', 'jsonl')).toBeUndefined();
  });
});
