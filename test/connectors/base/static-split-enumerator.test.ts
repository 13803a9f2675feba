import { describe, expect, it } from 'vitest';
import { StaticSplitEnumerator } from '../../../connectors/base/index.ts';
import { describeInputFileError } from '../../../connectors/file/input-files.ts';
import { ConfigurationError, EddyError } from '../../../src/core/errors.ts';
import { RecordingEnumeratorContext } from '../connector-test-kit.ts';

interface TestSplit {
  readonly splitId: string;
}

const splits: TestSplit[] = ['a', 'b', 'c', 'd', 'e'].map((splitId) => ({ splitId }));

describe('StaticSplitEnumerator', () => {
  it('does not signal a reader that registers before discovery finished', async () => {
    const context = new RecordingEnumeratorContext<TestSplit>(2);
    let release!: () => void;
    const discovered = new Promise<void>((resolve) => {
      release = resolve;
    });
    const enumerator = new StaticSplitEnumerator<TestSplit>(context, async () => {
      await discovered;
      return splits;
    });
    const started = enumerator.start();
    enumerator.addReader(0);
    expect(context.log).toEqual([]);
    release();
    await started;
    expect(context.splitsOf(0)).toEqual([splits[0], splits[2], splits[4]]);
    expect(context.splitsOf(1)).toEqual([splits[1], splits[3]]);
    expect(context.log).toEqual(['assign 0', 'assign 1', 'no-more 0', 'no-more 1']);
  });

  it('rediscovers when restored from a checkpoint taken before discovery', async () => {
    const before = new StaticSplitEnumerator<TestSplit>(new RecordingEnumeratorContext(1), async () => splits);
    const checkpoint = before.snapshotState();
    expect(checkpoint).toEqual({ unassigned: [], state: { isDiscovered: false } });
    const context = new RecordingEnumeratorContext<TestSplit>(1);
    await new StaticSplitEnumerator<TestSplit>(context, async () => splits, checkpoint).start();
    expect(context.splitsOf(0)).toEqual(splits);
  });
});

describe('describeInputFileError', () => {
  it('names the path and tells missing, unreadable and failing files apart', () => {
    const fsError = (code: string) => Object.assign(new Error(`${code}: boom`), { code });
    const missing = describeInputFileError('x.jsonl', fsError('ENOENT'));
    expect(missing).toBeInstanceOf(ConfigurationError);
    expect(missing.message).toBe("input file 'x.jsonl' does not exist");
    expect(describeInputFileError('x.jsonl', fsError('EACCES')).message).toBe("input file 'x.jsonl' is not readable (permission denied)");
    const io = describeInputFileError('x.jsonl', fsError('EIO'));
    expect(io).toBeInstanceOf(EddyError);
    expect(io.isRetriable).toBe(true);
    expect(io.domain).toBe('external');
    expect(io.message).toBe("cannot read input file 'x.jsonl': EIO: boom");
  });
});
