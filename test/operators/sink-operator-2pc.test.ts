import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Committer, Sink, SinkWriter, SinkWriterContext } from '../../src/connector/sink.ts';
import type { CheckpointingMode } from '../../src/checkpoint/checkpoint-config.ts';
import type { OperatorContext, OperatorSnapshot } from '../../src/operators/operator.ts';
import { SinkOperator } from '../../src/operators/sink-operator.ts';
import { fileSink } from '../../connectors/file/index.ts';
import { OperatorTestHarness } from '../harness/operator-test-harness.ts';

/** A SinkOperator that sees run attempt `attempt` (the harness always reports attempt 0). */
class AttemptSinkOperator<T> extends SinkOperator<T> {
  constructor(
    sink: Sink<T>,
    private readonly attempt: number,
  ) {
    super(sink);
  }

  override setup(context: OperatorContext<never>): void {
    super.setup({ ...context, checkpointing: { ...context.checkpointing, attempt: this.attempt } });
  }
}

interface RunningSink<T> {
  readonly harness: OperatorTestHarness<never>;
  readonly operator: SinkOperator<T>;
}

interface StartOptions {
  readonly attempt?: number;
  readonly parallelism?: number;
  readonly subtask?: number;
  readonly mode?: CheckpointingMode;
  readonly snapshot?: OperatorSnapshot;
}

/** Sets up, restores (if given a snapshot), opens and async-opens a sink subtask, as the task does. */
async function startSink<T>(sink: Sink<T>, options: StartOptions = {}): Promise<RunningSink<T>> {
  let operator: SinkOperator<T> | undefined;
  const harness = new OperatorTestHarness<never>(
    () => (operator = new AttemptSinkOperator<T>(sink, options.attempt ?? 0)),
    {
      uid: 'sink',
      checkpointingMode: options.mode ?? 'exactly-once',
      parallelism: options.parallelism ?? 1,
      subtask: options.subtask ?? 0,
    },
  ).open(options.snapshot);
  await operator!.openAsync();
  return { harness, operator: operator! };
}

/** The synchronous snapshot at the barrier, then its asynchronous part: what a task does before acknowledging. */
async function takeCheckpoint<T>(running: RunningSink<T>, checkpointId: number): Promise<OperatorSnapshot> {
  const snapshot = running.harness.snapshot(checkpointId);
  await running.operator.completeSnapshotAsync(checkpointId);
  return snapshot;
}

async function completeCheckpoint<T>(running: RunningSink<T>, checkpointId: number): Promise<void> {
  running.operator.notifyCheckpointComplete(checkpointId);
  await running.operator.commitsSettled();
}

/** A process dying: nothing more is called on the operator; its files are closed as the OS would. */
async function crash<T>(running: RunningSink<T>): Promise<void> {
  running.harness.close();
  await running.operator.closeAsync();
}

function write<T>(running: RunningSink<T>, ...values: T[]): void {
  for (const value of values) running.harness.processElement(value, 0);
}

/**
 * The round-robin / union redistribution of operator state for one new subtask (what the runtime's
 * restore assignment does): lists are merged by name in old-subtask order; element i of a list goes to
 * subtask i mod parallelism, except union lists, which every subtask gets whole.
 */
function redistribute(old: readonly OperatorSnapshot[], subtask: number, parallelism: number): OperatorSnapshot {
  const merged: Record<string, unknown[]> = {};
  const unionNames = new Set<string>();
  for (const snapshot of old) {
    for (const name of snapshot.unionStateNames ?? []) unionNames.add(name);
    for (const [name, list] of Object.entries(snapshot.operatorState)) (merged[name] ??= []).push(...list);
  }
  const operatorState: Record<string, unknown[]> = {};
  for (const [name, list] of Object.entries(merged)) {
    operatorState[name] = unionNames.has(name) ? list : list.filter((_, i) => i % parallelism === subtask);
  }
  return { keyed: undefined, operatorState, unionStateNames: [...unionNames] };
}

/**
 * A sink whose output is a shared list: a writer buffers records per checkpoint, the committer appends a
 * committable's records to `visible` once (committables carry ids, so commits are idempotent).
 */
class CommittingSink implements Sink<string> {
  readonly visible: string[] = [];
  readonly log: string[] = [];
  readonly committedIds = new Set<string>();
  failNextCommit = false;

  createWriter(context: SinkWriterContext): SinkWriter<string> {
    const sink = this;
    let open: string[] = [];
    return {
      async open(restoredState) {
        sink.log.push(`open ${JSON.stringify(restoredState)}`);
      },
      write(value) {
        open.push(value);
      },
      waitUntilWritable: () => undefined,
      async flush(isEndOfInput) {
        sink.log.push(`flush ${isEndOfInput}`);
      },
      snapshotState: (checkpointId) => [`writer-${context.subtask}@${checkpointId}`],
      prepareCommit(checkpointId) {
        sink.log.push(`prepare ${checkpointId}`);
        if (open.length === 0) return [];
        const committable = { id: `${context.subtask}-${checkpointId}`, records: open };
        open = [];
        return [committable];
      },
      async awaitPrepared(checkpointId) {
        sink.log.push(`await-prepared ${checkpointId}`);
      },
      async close() {
        sink.log.push('close');
      },
    };
  }

  createCommitter(): Committer {
    return {
      commit: async (committables) => {
        if (this.failNextCommit) {
          this.failNextCommit = false;
          throw new Error('commit refused');
        }
        for (const value of committables) {
          const { id, records } = value as { id: string; records: string[] };
          this.log.push(`commit ${id}`);
          if (this.committedIds.has(id)) continue;
          this.committedIds.add(id);
          this.visible.push(...records);
        }
      },
    };
  }

  describe(): string {
    return 'committing';
  }
}

describe('SinkOperator two-phase commit (fake committing sink)', () => {
  it('makes records before barrier n visible only once checkpoint n completed', async () => {
    const sink = new CommittingSink();
    const running = await startSink(sink);
    write(running, 'a', 'b');
    await takeCheckpoint(running, 1);
    write(running, 'c');
    expect(sink.visible).toEqual([]);
    await completeCheckpoint(running, 1);
    expect(sink.visible).toEqual(['a', 'b']);
    await takeCheckpoint(running, 2);
    expect(sink.visible).toEqual(['a', 'b']);
    await completeCheckpoint(running, 2);
    expect(sink.visible).toEqual(['a', 'b', 'c']);
    expect(sink.log.filter((line) => !line.startsWith('open'))).toEqual([
      'prepare 1',
      'await-prepared 1',
      'await-prepared 1',
      'commit 0-1',
      'prepare 2',
      'await-prepared 2',
      'await-prepared 2',
      'commit 0-2',
    ]);
  });

  it('records pending committables in union operator state and drops them once committed', async () => {
    const sink = new CommittingSink();
    const running = await startSink(sink);
    write(running, 'a');
    const first = await takeCheckpoint(running, 1);
    expect(first).toEqual({
      keyed: undefined,
      operatorState: {
        'sink-writer': ['writer-0@1'],
        'sink-pending-committables': [{ checkpointId: 1, committables: [{ id: '0-1', records: ['a'] }] }],
      },
      unionStateNames: ['sink-pending-committables'],
    });
    await completeCheckpoint(running, 1);
    const second = await takeCheckpoint(running, 2);
    expect(second.operatorState['sink-pending-committables']).toEqual([]);
  });

  it('rolls the committables of an aborted checkpoint into the next completed one, in order', async () => {
    const sink = new CommittingSink();
    const running = await startSink(sink);
    write(running, 'a');
    await takeCheckpoint(running, 1);
    running.operator.notifyCheckpointAborted(1);
    write(running, 'b');
    const second = await takeCheckpoint(running, 2);
    expect(second.operatorState['sink-pending-committables']).toEqual([
      { checkpointId: 1, committables: [{ id: '0-1', records: ['a'] }] },
      { checkpointId: 2, committables: [{ id: '0-2', records: ['b'] }] },
    ]);
    await completeCheckpoint(running, 2);
    expect(sink.visible).toEqual(['a', 'b']);
  });

  it('commits only checkpoints up to the completed one when a later one is already snapshotted', async () => {
    const sink = new CommittingSink();
    const running = await startSink(sink);
    write(running, 'a');
    await takeCheckpoint(running, 1);
    write(running, 'b');
    await takeCheckpoint(running, 2);
    await completeCheckpoint(running, 1);
    expect(sink.visible).toEqual(['a']);
    await completeCheckpoint(running, 2);
    expect(sink.visible).toEqual(['a', 'b']);
  });

  it('commits the restored pending committables before the writer opens, idempotently', async () => {
    const sink = new CommittingSink();
    const running = await startSink(sink);
    write(running, 'a');
    const snapshot = await takeCheckpoint(running, 1);
    write(running, 'lost');
    await crash(running);
    expect(sink.visible).toEqual([]);

    sink.log.length = 0;
    const restored = await startSink(sink, { snapshot, attempt: 1 });
    expect(sink.log).toEqual(['commit 0-1', 'open ["writer-0@1"]']);
    expect(sink.visible).toEqual(['a']);
    // Restored committables are committed: later checkpoints no longer carry them.
    expect((await takeCheckpoint(restored, 2)).operatorState['sink-pending-committables']).toEqual([]);
    await crash(restored);

    const again = await startSink(sink, { snapshot, attempt: 2 });
    expect(sink.visible).toEqual(['a']);
    await crash(again);
  });

  it('keeps a failed commit pending and fails the task through its hooks', async () => {
    const sink = new CommittingSink();
    const running = await startSink(sink);
    write(running, 'a');
    await takeCheckpoint(running, 1);
    sink.failNextCommit = true;
    running.operator.notifyCheckpointComplete(1);
    await expect(running.operator.commitsSettled()).rejects.toThrow('commit refused');
    await expect(running.operator.waitUntilReady()).rejects.toThrow('commit refused');
    await expect(running.operator.completeSnapshotAsync(2)).rejects.toThrow('commit refused');
    // A snapshot still holds the committables: restoring from it commits them.
    const snapshot = running.harness.snapshot(2);
    expect(snapshot.operatorState['sink-pending-committables']).toEqual([
      { checkpointId: 1, committables: [{ id: '0-1', records: ['a'] }] },
    ]);
    await expect(running.operator.finishAsync()).rejects.toThrow('commit refused');
    running.harness.close();
    await expect(running.operator.closeAsync()).rejects.toThrow('commit refused');
    expect(sink.visible).toEqual([]);

    await crash(await startSink(sink, { snapshot, attempt: 1 }));
    expect(sink.visible).toEqual(['a']);
  });

  it('at end of input commits nothing itself: the final checkpoint commits the last output', async () => {
    const sink = new CommittingSink();
    const running = await startSink(sink);
    write(running, 'a', 'b');
    running.harness.finish();
    await running.operator.finishAsync();
    expect(sink.visible).toEqual([]);
    await takeCheckpoint(running, 1);
    running.operator.notifyCheckpointComplete(1);
    running.harness.close();
    await running.operator.closeAsync(); // waits for the final commit
    expect(sink.visible).toEqual(['a', 'b']);
  });

  it('merges old subtasks’ pending committables when restored at another parallelism', async () => {
    const sink = new CommittingSink();
    const old0 = await startSink(sink, { parallelism: 2, subtask: 0 });
    const old1 = await startSink(sink, { parallelism: 2, subtask: 1 });
    write(old0, 'x0');
    write(old1, 'y0');
    const snapshots = [await takeCheckpoint(old0, 1), await takeCheckpoint(old1, 1)];
    await crash(old0);
    await crash(old1);

    // Scale in to 1: both old subtasks' output becomes visible.
    const merged = await startSink(sink, { attempt: 1, snapshot: redistribute(snapshots, 0, 1) });
    expect(sink.visible).toEqual(['x0', 'y0']);
    await crash(merged);

    // Scale out to 3: every new subtask gets every pending committable (union) and commits it; once.
    const wide = await Promise.all([0, 1, 2].map((subtask) => startSink(sink, { attempt: 2, parallelism: 3, subtask, snapshot: redistribute(snapshots, subtask, 3) })));
    expect(sink.visible).toEqual(['x0', 'y0']);
    for (const running of wide) await crash(running);
  });

  it('without checkpointing writes directly: no committer, no pre-commit, writer state only', async () => {
    const sink = new CommittingSink();
    const running = await startSink(sink, { mode: 'off' });
    write(running, 'a');
    expect(running.harness.snapshot(1)).toEqual({ keyed: undefined, operatorState: { 'sink-writer': ['writer-0@1'] } });
    await running.operator.completeSnapshotAsync(1);
    running.operator.notifyCheckpointComplete(1);
    await running.operator.commitsSettled();
    expect(sink.log.filter((line) => line.startsWith('prepare') || line.startsWith('commit'))).toEqual([]);
    expect(sink.visible).toEqual([]);
    await crash(running);
  });

  it('with checkpointing on but no committer flushes the writer at each checkpoint (at-least-once)', async () => {
    const sink = new CommittingSink();
    const plain: Sink<string> = { createWriter: (context) => sink.createWriter(context), describe: () => 'plain' };
    const running = await startSink(plain);
    write(running, 'a');
    const snapshot = await takeCheckpoint(running, 1);
    expect(snapshot.operatorState['sink-pending-committables']).toBeUndefined();
    expect(sink.log).toContain('flush false');
    expect(sink.log.some((line) => line.startsWith('prepare'))).toBe(false);
    await crash(running);
  });
});

describe('SinkOperator two-phase commit with the file sink', () => {
  let dir = '';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eddy-sink-2pc-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The output as a reader sees it: committed part files (not starting with '.'), sorted, concatenated. */
  async function visibleLines(path: string): Promise<string[]> {
    const names = (await readdir(path)).filter((name) => !name.startsWith('.')).sort();
    const lines: string[] = [];
    for (const name of names) lines.push(...(await readFile(join(path, name), 'utf8')).split('\n').filter((line) => line !== ''));
    return lines;
  }

  async function inProgressFiles(path: string): Promise<string[]> {
    return (await readdir(path)).filter((name) => name.endsWith('.inprogress')).sort();
  }

  function sinkAt(path: string) {
    return fileSink<string>({ path, format: { encode: (s) => s } });
  }

  it('publishes the records before barrier n when checkpoint n completes, and not before', async () => {
    const out = join(dir, 'out');
    const running = await startSink(sinkAt(out));
    write(running, 'a', 'b');
    await takeCheckpoint(running, 1);
    write(running, 'c');
    expect(await visibleLines(out)).toEqual([]);
    expect(await readFile(join(out, '.part-0-0-0.inprogress'), 'utf8')).toBe('a\nb\n');
    await completeCheckpoint(running, 1);
    expect(await readdir(out)).toContain('part-0-0-0.txt');
    expect(await visibleLines(out)).toEqual(['a', 'b']);
    // An aborted checkpoint rolls into the next one.
    await takeCheckpoint(running, 2);
    running.operator.notifyCheckpointAborted(2);
    write(running, 'd');
    await takeCheckpoint(running, 3);
    expect(await visibleLines(out)).toEqual(['a', 'b']);
    await completeCheckpoint(running, 3);
    expect(await visibleLines(out)).toEqual(['a', 'b', 'c', 'd']);
    expect(await inProgressFiles(out)).toEqual([]);
    await crash(running);
  });

  it('after a crash, restoring commits the pending files exactly once and removes leftovers — also twice from one snapshot', async () => {
    const out = join(dir, 'out');
    const first = await startSink(sinkAt(out));
    write(first, 'a', 'b');
    const snapshot = await takeCheckpoint(first, 1);
    write(first, 'after-1');
    await first.operator.finishAsync(); // the leftover holds data
    await crash(first);
    expect(await inProgressFiles(out)).toEqual(['.part-0-0-0.inprogress', '.part-0-0-1.inprogress']);
    expect(await visibleLines(out)).toEqual([]);

    const second = await startSink(sinkAt(out), { snapshot, attempt: 1 });
    expect(await visibleLines(out)).toEqual(['a', 'b']);
    expect(await inProgressFiles(out)).toEqual([]);
    write(second, 'lost-again');
    await second.operator.finishAsync();
    await crash(second);
    expect(await inProgressFiles(out)).toEqual(['.part-0-1-0.inprogress']);

    const third = await startSink(sinkAt(out), { snapshot, attempt: 2 });
    expect(await visibleLines(out)).toEqual(['a', 'b']);
    expect(await inProgressFiles(out)).toEqual([]);
    write(third, 'c');
    await takeCheckpoint(third, 2);
    await completeCheckpoint(third, 2);
    expect(await visibleLines(out)).toEqual(['a', 'b', 'c']);
    await crash(third);
  });

  it('never reuses a part-file name when a restart repeats the attempt number', async () => {
    const out = join(dir, 'out');
    const first = await startSink(sinkAt(out));
    write(first, 'a');
    const snapshot = await takeCheckpoint(first, 1);
    await crash(first);
    const second = await startSink(sinkAt(out), { snapshot, attempt: 0 });
    write(second, 'b');
    await takeCheckpoint(second, 2);
    await completeCheckpoint(second, 2);
    expect((await readdir(out)).sort()).toEqual(['part-0-0-0.txt', 'part-0-0-1.txt']);
    expect(await visibleLines(out)).toEqual(['a', 'b']);
    await crash(second);
  });

  it('restores two old subtasks into one: both pending files committed, the old subtask’s leftovers removed', async () => {
    const out = join(dir, 'out');
    const old = [await startSink(sinkAt(out), { parallelism: 2, subtask: 0 }), await startSink(sinkAt(out), { parallelism: 2, subtask: 1 })];
    write(old[0]!, 'x1', 'x2');
    write(old[1]!, 'y1');
    const snapshots = [await takeCheckpoint(old[0]!, 1), await takeCheckpoint(old[1]!, 1)];
    write(old[0]!, 'x-lost');
    write(old[1]!, 'y-lost');
    for (const running of old) {
      await running.operator.finishAsync();
      await crash(running);
    }
    expect(await inProgressFiles(out)).toHaveLength(4);

    const merged = await startSink(sinkAt(out), { attempt: 1, snapshot: redistribute(snapshots, 0, 1) });
    expect(await visibleLines(out)).toEqual(['x1', 'x2', 'y1']);
    expect(await inProgressFiles(out)).toEqual([]);
    write(merged, 'z');
    await takeCheckpoint(merged, 2);
    await completeCheckpoint(merged, 2);
    expect((await visibleLines(out)).sort()).toEqual(['x1', 'x2', 'y1', 'z']);
    await crash(merged);

    // The same checkpoint restored at parallelism 3, subtasks opening concurrently: still exactly once.
    const wide = await Promise.all(
      [0, 1, 2].map((subtask) => startSink(sinkAt(out), { attempt: 2, parallelism: 3, subtask, snapshot: redistribute(snapshots, subtask, 3) })),
    );
    expect((await visibleLines(out)).sort()).toEqual(['x1', 'x2', 'y1', 'z']);
    for (const running of wide) await crash(running);
  });

  it('a fresh start replaces the output of an earlier run and leaves other files alone', async () => {
    const out = join(dir, 'out');
    const earlier = await startSink(sinkAt(out));
    write(earlier, 'old');
    await takeCheckpoint(earlier, 1);
    await completeCheckpoint(earlier, 1);
    write(earlier, 'old-uncommitted');
    await earlier.operator.finishAsync();
    await crash(earlier);
    await writeFile(join(out, 'notes.md'), 'keep me');

    const fresh = await startSink(sinkAt(out));
    expect((await readdir(out)).sort()).toEqual(['notes.md']);
    write(fresh, 'new');
    fresh.harness.finish();
    await fresh.operator.finishAsync();
    await takeCheckpoint(fresh, 1);
    fresh.operator.notifyCheckpointComplete(1);
    fresh.harness.close();
    await fresh.operator.closeAsync();
    expect(await visibleLines(out)).toEqual(['keep me', 'new']);
    expect(await inProgressFiles(out)).toEqual([]);
  });
});
